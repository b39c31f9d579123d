"""Background training jobs: a queue in the run store and worker processes, with no long-lived daemon.

Training never runs in the caller's process. :meth:`JobRunner.submit` inserts a ``queued`` run;
:meth:`JobRunner.poll` (called by the dashboard every second and by ``runs wait``) does all the scheduling:

1. reaps worker processes this process started (a worker that died without recording an outcome is marked
   ``interrupted`` when killed by a signal, ``failed`` otherwise);
2. marks ``running`` runs whose worker process is gone (same host) or whose heartbeat is older than
   ``stale_after`` seconds as ``interrupted`` with the reason, so nothing stays ``running`` forever after a
   crash or a restart;
3. starts queued runs, oldest first, while fewer than ``max_concurrent`` runs are running: each one is a
   ``python -m recsys_core.runs.worker RUN_ID`` process in its own session (closing the dashboard does not
   kill it), stdout/stderr to ``<run folder>/worker.log``.

Several dashboards (or a dashboard and the CLI) may poll at once: a queued run is claimed with a
conditional UPDATE, so it starts once.

Data references (``data_ref``, stored with the run) say how the worker gets its data:

* ``{"kind": "dataset", "name": ..., "fingerprint": ..., "preprocess": {...}, "split": {...}}``: a saved dataset
  (DatasetStore) in the version with that fingerprint (pinned at submission: replacing the dataset later keeps
  this version for the run), preprocessed and split with those configs;
* ``{"kind": "file", "data": PATH, "preprocess": {...}, "split": {...}, "mapping": {...}?, "items": PATH?}``;
* ``{"kind": "files", "train": PATH, "test": PATH, "val": PATH?, "mapping": {...}?, "items": PATH?}``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.errors import ConfigError
from recsys_core.runs.store import ACTIVE, DONE, RunStore, runs_table

WORKER_MODULE = "recsys_core.runs.worker"
DEFAULT_STALE_AFTER = 120.0  # seconds without a heartbeat (workers beat every few seconds)

# Popen objects of workers started by this process, by run id: shared by every JobRunner in the process
# (the dashboard creates a new one per rerun), so finished children are always reaped, never left zombies.
_CHILDREN: dict[str, subprocess.Popen] = {}
_GPU_COUNT: int | None = None


def gpu_count() -> int:
    """Number of CUDA GPUs torch sees here (cached; 0 without CUDA)."""
    global _GPU_COUNT
    if _GPU_COUNT is None:
        try:
            import torch

            _GPU_COUNT = int(torch.cuda.device_count()) if torch.cuda.is_available() else 0
        except Exception:  # a broken CUDA install must not stop the queue; run on CPU
            _GPU_COUNT = 0
    return _GPU_COUNT


def default_concurrency() -> int:
    """Concurrent jobs: ``$RECLAB_MAX_JOBS`` if set, else one per CUDA GPU, else 1."""
    env = os.environ.get("RECLAB_MAX_JOBS", "").strip()
    if env:
        try:
            value = int(env)
        except ValueError:
            raise ConfigError(f"RECLAB_MAX_JOBS must be an integer; got {env!r}.", field="RECLAB_MAX_JOBS") from None
        if value < 1:
            raise ConfigError(f"RECLAB_MAX_JOBS must be >= 1; got {value}.", field="RECLAB_MAX_JOBS")
        return value
    return max(gpu_count(), 1)


# ---------------------------------------------------------------------- data references
def dataset_ref(
    name: str,
    preprocess: PreprocessConfig | dict | None = None,
    split: SplitConfig | dict | None = None,
    *,
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """Data reference for a saved dataset with the preprocessing and split to apply, pinned to one version:
    ``fingerprint``, or the current version's."""
    ref = {"kind": "dataset", "name": name, "preprocess": _dict(preprocess), "split": _dict(split)}
    return check_data_ref({**ref, "fingerprint": fingerprint})


def file_ref(
    data: str | Path,
    preprocess: PreprocessConfig | dict | None = None,
    split: SplitConfig | dict | None = None,
    *,
    mapping: dict[str, str | None] | None = None,
    items: str | Path | None = None,
) -> dict[str, Any]:
    """Data reference for one interaction file to preprocess and split (the ``--data FILE`` form)."""
    ref = {"kind": "file", "data": str(data), "preprocess": _dict(preprocess), "split": _dict(split)}
    return check_data_ref({**ref, "mapping": mapping, "items": str(items) if items else None})


def files_ref(
    train: str | Path,
    test: str | Path,
    val: str | Path | None = None,
    *,
    mapping: dict[str, str | None] | None = None,
    items: str | Path | None = None,
) -> dict[str, Any]:
    """Data reference for pre-split files (the ``--train/--test[/--val]`` form)."""
    ref = {"kind": "files", "train": str(train), "test": str(test), "val": str(val) if val else None}
    return check_data_ref({**ref, "mapping": mapping, "items": str(items) if items else None})


def _dict(config: Any) -> dict[str, Any]:
    if config is None:
        return {}
    return config.to_dict() if hasattr(config, "to_dict") else dict(config)


def check_data_ref(ref: dict[str, Any]) -> dict[str, Any]:
    """Validate a data reference and normalise it (absolute paths, full configs); raises ConfigError."""
    ref = {k: v for k, v in dict(ref).items() if v is not None}
    kind = ref.get("kind")
    if kind not in ("dataset", "file", "files"):
        raise ConfigError(f"data kind must be dataset, file or files; got {kind!r}.", field="data")
    if kind in ("dataset", "file"):
        ref["preprocess"] = PreprocessConfig.from_dict(ref.get("preprocess") or {}).to_dict()
        ref["split"] = SplitConfig.from_dict(ref.get("split") or {}).to_dict()
    if kind == "dataset":
        from recsys_core.data.store import DatasetStore, check_dataset_name

        store = DatasetStore()
        name = check_dataset_name(str(ref.get("name", "")))
        if ref.get("fingerprint"):  # a pinned version (an exported run's): it must still be there
            ref["name"] = store.info(name, str(ref["fingerprint"])).name  # DataError saying why not
        else:  # pin the current version, so a later replace never changes this run's data
            info = store.info(name)  # raises when there is none
            ref["name"], ref["fingerprint"] = info.name, info.fingerprint
        return ref
    keys = ("data",) if kind == "file" else ("train", "test")
    for key in (*keys, "val", "items"):
        if key in ref:
            path = Path(str(ref[key])).expanduser()
            if not path.is_file():
                raise ConfigError(f"No file '{ref[key]}' ({key}).", field=key, hint="Check the path.")
            ref[key] = str(path.resolve())
        elif key in keys:
            raise ConfigError(f"The {kind} data reference needs '{key}'.", field=key)
    return ref


def describe_data(ref: dict[str, Any]) -> tuple[str | None, str | None]:
    """(dataset name, fingerprint) known before loading: a saved dataset's; files get theirs in the worker."""
    if ref.get("kind") == "dataset":
        from recsys_core.data.store import DatasetStore

        info = DatasetStore().info(ref["name"], ref.get("fingerprint"))
        return info.name, info.fingerprint
    path = ref.get("data") or ref.get("train")
    return (Path(path).name if path else None), None


def dataset_versions_in_use(store: RunStore | None = None) -> set[str]:
    """Fingerprints of the saved-dataset versions that runs in the store were trained on (or are queued for):
    the kept versions :meth:`DatasetStore.prune_versions` must keep."""
    used: set[str] = set()
    for run in (store or RunStore()).list():
        ref = run.get("data_ref") or {}
        if ref.get("kind") != "dataset":
            continue
        used.update(fp for fp in (ref.get("fingerprint"), run.get("dataset_fingerprint")) if fp)
    return used


def runs_on_dataset(name: str, store: RunStore | None = None) -> list[dict[str, Any]]:
    """Runs trained on (any version of) the saved dataset ``name``, newest first: e.g. to warn before
    replacing it that their data will be kept as an older version."""
    runs = (store or RunStore()).list(dataset=name)
    return [r for r in runs if (r.get("data_ref") or {}).get("kind") == "dataset"]


def prune_dataset_versions(
    name: str | None = None, *, store: RunStore | None = None, datasets: Any = None, dry_run: bool = False
) -> list[Any]:
    """Remove the kept dataset versions (of ``name``, or of every dataset) that no run in the store needs;
    returns the ``KeptVersion`` list removed (or, with ``dry_run``, that would be)."""
    from recsys_core.data.store import DatasetStore

    datasets = datasets or DatasetStore()
    return datasets.prune_versions(dataset_versions_in_use(store), name=name, dry_run=dry_run)


# ---------------------------------------------------------------------- specs
def spec_from_dict(d: dict[str, Any]) -> Any:
    """An ``ExperimentSpec`` from its ``to_dict()`` (unknown keys rejected, model and params validated)."""
    from recsys_core.experiment import ExperimentSpec
    from recsys_core.models.params import validate_params
    from recsys_core.models.registry import get_model_class

    known = set(ExperimentSpec.__dataclass_fields__)
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"Unknown experiment option(s): {', '.join(sorted(unknown))}.", field="spec")
    if not d.get("model"):
        raise ConfigError("The experiment needs a model.", field="model")
    values = dict(d)
    values["ks"] = tuple(int(k) for k in values.get("ks", (10,)))
    values["params"] = dict(values.get("params") or {})
    cls = get_model_class(values["model"])
    validate_params(cls.schema, values["params"], model=cls.name)
    return ExperimentSpec(**values)


def planned_epochs(spec: Any) -> int:
    """Epochs the run will train for (the spec's override, else the model's epochs/iterations, else 1)."""
    from recsys_core.models.params import validate_params
    from recsys_core.models.registry import get_model_class

    if spec.epochs is not None:
        return int(spec.epochs)
    cls = get_model_class(spec.model)
    params = validate_params(cls.schema, spec.params, model=cls.name)
    return int(params.get("epochs", params.get("iterations", 1)))


# ---------------------------------------------------------------------- processes
def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this host and is not a zombie (reaps it if it is our child)."""
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False  # our own child had exited: now reaped
    except ChildProcessError:
        pass  # not our child: ask the kernel below
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    try:  # a zombie (exited, parent has not reaped it) still answers kill(0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    except (OSError, IndexError):
        return True


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def _log_tail(path: Path, n: int = 5) -> str:
    try:
        lines = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


class JobRunner:
    """Queue of training jobs on a :class:`RunStore`; see the module docstring for the life cycle.

    Args:
        store: the run store (default: ``RunStore()`` from ``$RECLAB_HOME`` / ``$RECLAB_DB``).
        max_concurrent: how many runs may be ``running`` at once (default :func:`default_concurrency`).
        stale_after: seconds without a heartbeat after which a running run counts as interrupted.
        python: interpreter for workers (default: this one).
    """

    def __init__(
        self,
        store: RunStore | None = None,
        *,
        max_concurrent: int | None = None,
        stale_after: float = DEFAULT_STALE_AFTER,
        python: str | None = None,
    ) -> None:
        self.store = store or RunStore()
        self.max_concurrent = int(max_concurrent) if max_concurrent is not None else default_concurrency()
        if self.max_concurrent < 1:
            raise ConfigError(f"max_concurrent must be >= 1; got {self.max_concurrent}.", field="max_concurrent")
        self.stale_after = float(stale_after)
        self.python = python or sys.executable
        self.host = socket.gethostname()

    # ------------------------------------------------------------------ queue
    def submit(
        self,
        spec: Any,
        data_ref: dict[str, Any],
        *,
        name: str | None = None,
        tags: Sequence[str] = (),
        notes: str = "",
    ) -> str:
        """Queue a run of ``spec`` (an ``ExperimentSpec`` or its dict) on ``data_ref``; returns the run id.

        The spec and data reference are validated now (unknown model, bad hyperparameter, missing file or
        dataset raise :class:`ConfigError`) so mistakes show up at once, not in a worker log. Call
        :meth:`poll` to start it.
        """
        spec_obj = spec_from_dict(spec.to_dict() if hasattr(spec, "to_dict") else dict(spec))
        ref = check_data_ref(data_ref)
        from recsys_core.preflight import check_spec, summarize_ref

        check_spec(spec_obj, summarize_ref(ref))  # a run that can only fail is refused before it is queued
        dataset_name, dataset_fp = describe_data(ref)
        protocol = {
            "ks": list(spec_obj.ks),
            "candidates": spec_obj.candidates,
            "n_negatives": spec_obj.n_negatives,
            "relevance_threshold": spec_obj.relevance_threshold,
            "seed": spec_obj.seed,
            "split": {"kind": ref["kind"], "preprocess": ref.get("preprocess"), "split": ref.get("split")},
        }
        return self.store.create(
            model=spec_obj.model,
            params=spec_obj.params,
            spec=spec_obj.to_dict(),
            data_ref=ref,
            name=name,
            tags=tags,
            notes=notes,
            dataset_name=dataset_name,
            dataset_fingerprint=dataset_fp,
            protocol=protocol,
            seed=spec_obj.seed,
            epochs_total=planned_epochs(spec_obj),
        )

    def cancel(self, run_id: str) -> str:
        """Cancel a run: queued → ``cancelled`` now; running → its worker stops within about a second (or one
        batch) and records ``cancelled``. Returns the status right after the request."""
        return self.store.request_cancel(run_id)

    def queue_position(self, run_id: str) -> int | None:
        """1 for the next run to start, 2 after it, ...; None when the run is not queued."""
        return self.store.progress(run_id)["queue_position"]

    def progress(self, run_id: str) -> dict[str, Any]:
        """See :meth:`RunStore.progress` (status, epoch i of n, elapsed, ETA, latest losses, queue position)."""
        return self.store.progress(run_id)

    # ------------------------------------------------------------------ scheduling
    def poll(self) -> dict[str, list[str]]:
        """One scheduling step (cheap; call it every second): reap, mark orphans interrupted, start queued
        runs up to the concurrency limit. Returns run ids by what happened: ``reaped``, ``interrupted``,
        ``started``."""
        report: dict[str, list[str]] = {"reaped": [], "interrupted": [], "started": []}
        self._reap(report)
        self._mark_orphans(report)
        self._start_queued(report)
        return report

    def _reap(self, report: dict[str, list[str]]) -> None:
        for run_id, proc in list(_CHILDREN.items()):
            code = proc.poll()
            if code is None:
                continue
            del _CHILDREN[run_id]
            report["reaped"].append(run_id)
            if code == 0:
                continue  # the worker recorded its own outcome
            log = self.store.runs_dir / run_id / "worker.log"
            if code < 0:
                reason = f"worker process {proc.pid} was killed by {_signal_name(code)}"
                status = "interrupted"
            else:
                reason = f"worker process {proc.pid} exited with status {code}"
                status = "failed"
            tail = _log_tail(log)
            if tail and status == "failed":
                reason += f": {tail.splitlines()[-1]}"
            if self.store.fail(run_id, self._with_epoch(run_id, reason), status=status, only_if_running=True):
                report["interrupted"].append(run_id)

    def _with_epoch(self, run_id: str, reason: str) -> str:
        try:
            p = self.store.progress(run_id)
        except ConfigError:
            return reason
        return f"{reason} (last epoch reached: {p['epoch']} of {p['n_epochs'] or '?'})"

    def _mark_orphans(self, report: dict[str, list[str]]) -> None:
        c = runs_table.c
        now = time.time()
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                sa.select(c.id, c.pid, c.host, c.heartbeat_at, c.started_at).where(c.status == "running")
            ).all()
        for row in rows:
            if row.id in _CHILDREN and _CHILDREN[row.id].poll() is None:
                continue  # our own live child
            beat = row.heartbeat_at or row.started_at or 0.0
            reason = None
            if row.host == self.host and row.pid is not None and not pid_alive(int(row.pid)):
                reason = f"worker process {row.pid} on {row.host} is gone"
            elif now - beat > self.stale_after:
                reason = f"no heartbeat for {now - beat:.0f} s (worker {row.pid} on {row.host})"
            if reason is None:
                continue
            with self.store.engine.begin() as conn:
                # only if nothing changed since we looked: never overwrite what a worker just recorded
                query = runs_table.update().where(c.id == row.id, c.status == "running")
                query = query.where(c.pid.is_(None) if row.pid is None else c.pid == row.pid)
                changed = conn.execute(
                    query.values(status="interrupted", error=self._with_epoch(row.id, reason), finished_at=now)
                ).rowcount
            if changed:
                report["interrupted"].append(row.id)

    def _start_queued(self, report: dict[str, list[str]]) -> None:
        c = runs_table.c
        running = sa.select(sa.func.count()).select_from(runs_table).where(c.status == "running").scalar_subquery()
        while True:
            with self.store.engine.connect() as conn:
                head = conn.execute(
                    sa.select(c.id, c.spec).where(c.status == "queued").order_by(c.created_at, c.id).limit(1)
                ).first()
            if head is None:
                return
            now = time.time()
            values: dict[str, Any] = {"status": "running", "started_at": now, "heartbeat_at": now}
            values.update(host=self.host, pid=None, cancel_requested=False, error=None)
            device = self._pick_gpu((head.spec or {}).get("device", "auto"))
            if device:
                values["device"] = device
            with self.store.engine.begin() as conn:
                # claim: still queued and still below the limit, in one statement (atomic on SQLite)
                claimed = conn.execute(
                    runs_table.update()
                    .where(c.id == head.id, c.status == "queued", running < self.max_concurrent)
                    .values(**values)
                ).rowcount
            if not claimed:
                with self.store.engine.connect() as conn:
                    still_queued = conn.execute(sa.select(c.status).where(c.id == head.id)).scalar() == "queued"
                if still_queued:
                    return  # the limit is reached
                continue  # another poller took it (or it was cancelled): try the next one
            self._spawn(head.id, device)
            report["started"].append(head.id)

    def _pick_gpu(self, device: str) -> str | None:
        """With several GPUs, give an ``auto``/``cuda`` run the GPU fewest running runs use."""
        n = gpu_count()
        if n < 2 or str(device).lower() not in ("auto", "cuda"):
            return None
        c = runs_table.c
        with self.store.engine.connect() as conn:
            used = [r.device for r in conn.execute(sa.select(c.device).where(c.status == "running"))]
        counts = {f"cuda:{i}": used.count(f"cuda:{i}") for i in range(n)}
        return min(counts, key=lambda d: (counts[d], d))

    def _spawn(self, run_id: str, device: str | None) -> None:
        folder = self.store.run_dir(run_id)
        env = dict(os.environ)
        env["RECLAB_HOME"] = str(self.store.home)
        env["RECLAB_DB"] = self.store.url
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        if device:
            env["RECLAB_WORKER_DEVICE"] = device
        try:
            with open(folder / "worker.log", "ab") as log:
                proc = subprocess.Popen(
                    [self.python, "-m", WORKER_MODULE, run_id],
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                    cwd=str(folder),
                    start_new_session=True,  # survives the dashboard's process group (Ctrl-C, reloads)
                )
        except OSError as err:
            self.store.fail(run_id, f"could not start the worker: {err}", only_if_running=True)
            return
        _CHILDREN[run_id] = proc
        self.store.add_artifact(run_id, "log", folder / "worker.log")
        with self.store.engine.begin() as conn:
            c = runs_table.c
            conn.execute(
                runs_table.update().where(c.id == run_id, c.status == "running", c.pid.is_(None)).values(pid=proc.pid)
            )

    # ------------------------------------------------------------------ waiting
    def wait(
        self, run_ids: Sequence[str] | None = None, *, timeout: float | None = None, interval: float = 0.2
    ) -> list[dict[str, Any]]:
        """Poll until the given runs (default: every queued or running run) are done; returns them.

        Raises:
            TimeoutError: when ``timeout`` seconds pass first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        ids = list(run_ids) if run_ids else [r["id"] for r in self.store.list(status=ACTIVE)]
        for run_id in ids:
            if not self.store.exists(run_id):
                raise ConfigError(f"No run with id '{run_id}'.", field="run_id")
        while True:
            self.poll()
            runs = [self.store.get(r, with_history=False) for r in ids]
            if all(r["status"] in DONE for r in runs):
                return runs
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"runs still active after {timeout} s: " + ", ".join(r["id"] for r in runs))
            time.sleep(interval)

    def children(self) -> dict[str, int]:
        """run id → pid of workers this process started that have not been reaped yet."""
        return {run_id: proc.pid for run_id, proc in _CHILDREN.items()}

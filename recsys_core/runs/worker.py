"""The worker: one training run in its own process, writing progress and results to the run store.

Started by :class:`recsys_core.runs.jobs.JobRunner` as ``python -m recsys_core.runs.worker RUN_ID`` (the same
as ``python -m recsys_core worker RUN_ID``). It loads the run's data reference, trains with
:func:`recsys_core.experiment.run_experiment`, records every epoch as it ends, saves the artifacts (model,
top-K recommendations and per-user metrics as Parquet) into the run folder and marks the run ``finished``.

* Cancel: ``should_stop`` reads the run's cancel flag at most every 0.5 s and raises :class:`RunCancelled`,
  so an iterative model stops within one batch; a closed-form step that cannot be interrupted is ended by the
  heartbeat thread after a short grace period. The run ends ``cancelled`` with its history kept.
* Failure: any exception ends the run ``failed`` with the error message; ``last_epoch`` says how far it got.
* SIGTERM ends it ``interrupted``; SIGKILL cannot be caught, so the scheduler marks it ``interrupted`` on its
  next poll.
* A heartbeat thread refreshes ``heartbeat_at`` every few seconds, so a stuck or vanished worker on another
  host is detected too.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from recsys_core.errors import ConfigError, DataError
from recsys_core.runs.jobs import planned_epochs, spec_from_dict
from recsys_core.runs.store import RunStore

HEARTBEAT_SECONDS = 5.0  # how often a worker refreshes heartbeat_at
CANCEL_CHECK_SECONDS = 0.5  # should_stop reads the cancel flag at most this often
CANCEL_GRACE_SECONDS = 2.0  # then the heartbeat thread ends a step that does not poll should_stop


class RunCancelled(Exception):
    """Raised from ``should_stop`` when the user cancelled the run; unwinds training at once."""


def load_data(ref: dict[str, Any], *, expected_fingerprint: str | None = None) -> tuple[Any, dict[str, Any]]:
    """Prepared train/val/test parts for a data reference (see :mod:`recsys_core.runs.jobs`), plus what to
    record about them: ``dataset_name``, ``dataset_fingerprint``, ``data_fingerprint``.

    A saved dataset is loaded in the version the reference pins (its ``fingerprint``), even after the dataset
    was replaced; for references made before versions were pinned, pass the run record's
    ``dataset_fingerprint`` as ``expected_fingerprint`` (without either, the current version is used).
    A finished run's data is best rebuilt with :func:`load_run_data`, which also checks it.
    """
    data, about, _ = _load_data(ref, expected_fingerprint=expected_fingerprint)
    return data, about


def _load_data(ref: dict[str, Any], *, expected_fingerprint: str | None = None) -> tuple[Any, dict[str, Any], Any]:
    """:func:`load_data` plus the item metadata (a frame or None) of the same version."""
    from recsys_core.data.load import load_interactions
    from recsys_core.data.schema import ColumnMapping, PreprocessConfig, SplitConfig
    from recsys_core.experiment import prepare_from_frame, prepare_from_parts

    items = None
    if ref.get("items"):
        from recsys_core.data.metadata import read_item_metadata

        items, _ = read_item_metadata(ref["items"])
    mapping = ref.get("mapping") or None

    def load(path: str) -> Any:
        m = mapping
        if m is not None and not {"user", "item"} <= m.keys():
            m = {**load_interactions(path).mapping.to_dict(), **m}  # partial override over detection
        return load_interactions(path, mapping=ColumnMapping(**m) if m else None).frame

    kind = ref.get("kind")
    if kind == "dataset":
        from recsys_core.data.store import DatasetStore

        version = ref.get("fingerprint") or expected_fingerprint or None
        ds = DatasetStore().load(ref["name"], fingerprint=version)
        pre = PreprocessConfig.from_dict(ref.get("preprocess") or {})
        spl = SplitConfig.from_dict(ref.get("split") or {})
        items = items if items is not None else ds.items
        data = prepare_from_frame(ds.interactions, pre, spl, items=items)
        about = {"dataset_name": ds.info.name, "dataset_fingerprint": ds.info.fingerprint}
    elif kind == "file":
        pre = PreprocessConfig.from_dict(ref.get("preprocess") or {})
        spl = SplitConfig.from_dict(ref.get("split") or {})
        data = prepare_from_frame(load(ref["data"]), pre, spl, items=items)
        about = {"dataset_name": Path(ref["data"]).name, "dataset_fingerprint": data.description["raw_fingerprint"]}
    elif kind == "files":
        val = load(ref["val"]) if ref.get("val") else None
        data = prepare_from_parts(load(ref["train"]), load(ref["test"]), val, items=items)
        about = {"dataset_name": Path(ref["train"]).name, "dataset_fingerprint": data.fingerprint}
    else:
        raise ConfigError(f"data kind must be dataset, file or files; got {kind!r}.", field="data")
    about["data_fingerprint"] = data.fingerprint
    return data, about, items


RUN_DATA_KEYS = ("data_ref", "dataset_fingerprint", "data_fingerprint")
REBUILD = "This run's data can no longer be rebuilt exactly"


def run_data_key(run: dict[str, Any]) -> str:
    """A JSON string of what determines a run's data (its data reference and stored fingerprints): a cache
    key for :func:`load_run_data` that changes whenever the data it must return does
    (``load_run_data(json.loads(run_data_key(run)))`` works)."""
    import json

    return json.dumps({k: run.get(k) for k in RUN_DATA_KEYS}, sort_keys=True, default=str)


def load_run_data(run: dict[str, Any]) -> tuple[Any, Any]:
    """Rebuild a finished run's train/val/test parts exactly as it was trained on them, with its item metadata.

    ``run`` is the run store's record (``RunStore.get``; only ``data_ref``, ``dataset_fingerprint`` and
    ``data_fingerprint`` are read). A saved dataset is loaded in the version the run pinned (kept after a
    replace or delete); the rebuilt parts' fingerprint is then compared with the run's stored
    ``data_fingerprint``, so data that changed since (a CSV file edited in place, a dataset version pruned or
    replaced before versions were kept, a preprocessing change) is never returned in place of the run's own.

    Returns:
        (``PreparedData``, item metadata frame or None).

    Raises:
        DataError: the data cannot be rebuilt exactly (codes ``dataset_version_gone``, ``data_changed``,
            ``no_data_fingerprint``, or the reader's own code such as ``not_found``), saying what changed and
            what to do; ConfigError: a bad data reference.
    """
    ref = dict(run.get("data_ref") or {})
    kind = ref.get("kind")
    stored_dataset = run.get("dataset_fingerprint")
    stored_data = run.get("data_fingerprint")
    retrain = "Retrain it on the current data"
    if not stored_data:
        raise DataError(
            f"{REBUILD}: it has no recorded data fingerprint to check the data against (it never got as far as "
            "loading its data)",
            code="no_data_fingerprint",
            hint=f"{retrain}.",
        )
    try:
        data, about, items = _load_data(ref, expected_fingerprint=stored_dataset if kind == "dataset" else None)
    except DataError as err:
        if err.code == "dataset_version_gone":
            hint = err.hint.replace("Retrain on the current data", retrain, 1)
            raise DataError(f"{REBUILD}: {_lower(err.what)}", code=err.code, hint=hint) from None
        if err.code == "not_found":
            raise DataError(
                f"{REBUILD}: a file it was trained on is gone",
                code="not_found",
                file=err.file,
                hint=f"{retrain}, or put the file back where it was.",
            ) from None
        raise
    if about["data_fingerprint"] == stored_data:
        return data, items
    name = about.get("dataset_name")
    now, then = about.get("dataset_fingerprint"), stored_dataset
    if kind in ("file", "files") and now and then and now != then:
        files = [ref[k] for k in ("data", "train", "val", "test") if ref.get(k)]
        the_files, as_it_was = ("the files", "as they were") if len(files) > 1 else ("the file", "as it was")
        what = (
            f"{REBUILD}: {the_files} it was trained on changed since ({', '.join(files)}: the contents now have "
            f"fingerprint {now[:16]}…, the run was trained on {then[:16]}…)"
        )
        hint = f"{retrain}, or restore {the_files} {as_it_was} to use this run."
    else:
        source = f"dataset '{name}' (version {now[:16]}…)" if kind == "dataset" and now else f"'{name}'"
        what = (
            f"{REBUILD}: preparing {source} now gives train/test parts with fingerprint "
            f"{about['data_fingerprint'][:16]}…, but the run was trained on {stored_data[:16]}… (the data, its "
            "cleaning or its split changed, or a RecLab update prepares data differently)"
        )
        hint = f"{retrain}."
    raise DataError(what, code="data_changed", file=None, hint=hint)


def _lower(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def device_name(device: str) -> str | None:
    """Human name of a resolved device id (GPU model, or the CPU description)."""
    from recsys_core.device import available_devices

    for d in available_devices():
        if d.id == device:
            return d.label
    return None


class RunRecorder:
    """Connects one training to its run: records epochs, answers ``should_stop`` from the cancel flag and
    keeps the heartbeat fresh from a daemon thread.

    Args:
        store: the run store; run_id: the run (already ``running``).
        hard_cancel: in a worker process, end a step that ignores ``should_stop`` (closed-form models) by
            recording ``cancelled`` and exiting the process after ``CANCEL_GRACE_SECONDS``. Never in-process.
    """

    def __init__(self, store: RunStore, run_id: str, *, hard_cancel: bool = False) -> None:
        self.store = store
        self.run_id = run_id
        self.hard_cancel = hard_cancel
        self.cancelled = threading.Event()
        self.done = threading.Event()
        self.lock = threading.Lock()  # whoever records the final status holds it
        self._last_check = 0.0
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> RunRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.done.set()

    def on_epoch(self, record: Any, model: Any) -> None:
        """Epoch callback: store the record (losses, validation metrics, timings)."""
        self.store.append_epoch(self.run_id, record)

    def should_stop(self) -> bool:
        """Raise :class:`RunCancelled` once the run's cancel flag is set (checked at most every 0.5 s)."""
        if self.cancelled.is_set():
            raise RunCancelled
        now = time.monotonic()
        if now - self._last_check >= CANCEL_CHECK_SECONDS:
            self._last_check = now
            if self.store.cancel_requested(self.run_id):
                self.cancelled.set()
                raise RunCancelled
        return False

    def _beat(self) -> None:
        last_beat = time.monotonic()
        seen_cancel_at: float | None = None
        while not self.done.wait(min(1.0, HEARTBEAT_SECONDS)):
            try:
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_SECONDS:
                    flag = self.store.heartbeat(self.run_id)
                    last_beat = now
                else:
                    flag = self.store.cancel_requested(self.run_id)
            except Exception as err:  # a locked or unreachable DB must not kill training; retry next beat
                print(f"heartbeat failed: {err}", file=sys.stderr)
                continue
            if not flag:
                continue
            self.cancelled.set()
            seen_cancel_at = seen_cancel_at or now
            if self.hard_cancel and now - seen_cancel_at >= CANCEL_GRACE_SECONDS:
                if self.record_cancelled("cancelled by the user (stopped mid-step)"):
                    os._exit(0)  # the main thread is stuck in a step that never polls should_stop
                return

    def record_cancelled(self, message: str = "cancelled by the user") -> bool:
        """Record ``cancelled`` unless an outcome was already recorded; True if this call recorded it."""
        with self.lock:
            if self.done.is_set():
                return False
            progress = self.store.progress(self.run_id)
            self.store.fail(self.run_id, f"{message} after epoch {progress['epoch']}", status="cancelled")
            self.done.set()
            return True

    def record(self, fn: Callable[[], None]) -> bool:
        """Run ``fn`` (which records the outcome) unless another thread already recorded one."""
        with self.lock:
            if self.done.is_set():
                return False
            fn()
            self.done.set()
            return True


def save_artifacts(store: RunStore, run_id: str, result: Any, data: Any) -> None:
    """Model (safetensors + JSON), top-K recommendations and per-user metrics (Parquet) into the run folder."""
    from recsys_core.experiment import recommendations_frame

    folder = store.run_dir(run_id)
    result.model.save(folder / "model")
    store.add_artifact(run_id, "model", folder / "model")
    recs = recommendations_frame(result.model, data, k=max(result.spec.ks))
    recs.to_parquet(folder / "recommendations.parquet", index=False)
    store.add_artifact(run_id, "recommendations", folder / "recommendations.parquet")
    if result.per_user is not None and len(result.per_user.columns):
        per_user = result.per_user
        per_user.reset_index(drop=per_user.index.name is None).to_parquet(folder / "per_user.parquet", index=False)
        store.add_artifact(run_id, "per_user", folder / "per_user.parquet")


def _error_message(err: BaseException) -> str:
    if isinstance(err, DataError):
        return err.message
    text = str(err).strip() or "(no message)"
    return f"{type(err).__name__}: {text}"


def run_worker(run_id: str, store: RunStore | None = None) -> int:
    """Train run ``run_id`` in this process and record everything; returns the exit status (0 = recorded
    finished/cancelled, 1 = recorded failed)."""
    from recsys_core.device import resolve_device
    from recsys_core.experiment import run_experiment

    store = store or RunStore()
    run = store.get(run_id, with_history=False)
    if run["status"] not in ("queued", "running"):
        print(f"run {run_id} is {run['status']}; nothing to do")
        return 0
    if run["cancel_requested"]:
        store.fail(run_id, "cancelled before it started", status="cancelled")
        return 0

    def on_sigterm(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_sigterm)
    recorder = RunRecorder(store, run_id, hard_cancel=True)
    with recorder:
        try:
            spec = spec_from_dict(run["spec"])
            forced = os.environ.get("RECLAB_WORKER_DEVICE")
            if forced and str(spec.device).lower() in ("auto", "cuda"):
                spec.device = forced
            device = resolve_device(spec.device)
            store.mark_started(
                run_id,
                pid=os.getpid(),
                host=socket.gethostname(),
                device=device,
                device_name=device_name(device),
                epochs_total=planned_epochs(spec),
            )
            print(f"run {run_id}: {spec.model} on {device}, pid {os.getpid()}", flush=True)
            # the dataset version pinned at submission (older references: the fingerprint recorded then)
            data, about = load_data(run["data_ref"], expected_fingerprint=run.get("dataset_fingerprint"))
            store.set_fields(run_id, **about)
            result = run_experiment(spec, data, callbacks=[recorder.on_epoch], should_stop=recorder.should_stop)
            save_artifacts(store, run_id, result, data)
            status = "cancelled" if result.fit.cancelled else "finished"
            recorder.record(lambda: store.finish(run_id, result, status=status))
            print(f"run {run_id}: {status}", flush=True)
            return 0
        except RunCancelled:
            recorder.record_cancelled()
            print(f"run {run_id}: cancelled", flush=True)
            return 0
        except SystemExit as err:
            reason = f"worker terminated (exit {err.code})"
            recorder.record(lambda: store.fail(run_id, reason, status="interrupted"))
            return 1
        except BaseException as err:  # record *every* crash (incl. MemoryError, KeyboardInterrupt), then exit
            traceback.print_exc()
            message = _error_message(err)
            progress = store.progress(run_id)
            message += f" (last epoch reached: {progress['epoch']} of {progress['n_epochs'] or '?'})"
            recorder.record(lambda: store.fail(run_id, message, status="failed"))
            return 1


def train_and_record(
    spec: Any,
    data: Any,
    data_ref: dict[str, Any],
    *,
    store: RunStore | None = None,
    name: str | None = None,
    tags: Sequence[str] = (),
    notes: str = "",
    callbacks: Sequence[Callable[[Any, Any], None]] = (),
    about: dict[str, Any] | None = None,
    save: bool = True,
) -> tuple[str, Any]:
    """Train in *this* process (the ``train`` command) while recording the run like a worker does.

    Args:
        spec: ``ExperimentSpec``; data: its ``PreparedData``; data_ref: how to reload the data (stored so
            the run can be exported and rerun); about: ``dataset_name``/``dataset_fingerprint`` if known.
        callbacks: extra epoch callbacks (e.g. progress on stderr).
        save: also save the artifacts into the run folder.

    Returns:
        (run id, ``ExperimentResult``). An exception is recorded as ``failed`` and re-raised.
    """
    from recsys_core.device import resolve_device
    from recsys_core.experiment import run_experiment

    store = store or RunStore()
    about = dict(about or {})
    run_id = store.create(
        model=spec.model,
        params=spec.params,
        spec=spec.to_dict(),
        data_ref=data_ref,
        name=name,
        tags=tags,
        notes=notes,
        dataset_name=about.get("dataset_name"),
        dataset_fingerprint=about.get("dataset_fingerprint") or data.fingerprint,
        seed=spec.seed,
        epochs_total=planned_epochs(spec),
        status="running",
    )
    recorder = RunRecorder(store, run_id, hard_cancel=False)
    with recorder:
        try:
            device = resolve_device(spec.device)
            store.mark_started(run_id, device=device, device_name=device_name(device))
            store.set_fields(run_id, data_fingerprint=data.fingerprint)
            result = run_experiment(
                spec, data, callbacks=[recorder.on_epoch, *callbacks], should_stop=recorder.should_stop
            )
            if save:
                save_artifacts(store, run_id, result, data)
            status = "cancelled" if result.fit.cancelled else "finished"
            recorder.record(lambda: store.finish(run_id, result, status=status))
            return run_id, result
        except RunCancelled:
            recorder.record_cancelled()
            raise ConfigError(f"Run {run_id} was cancelled.", field="run_id") from None
        except BaseException as err:
            message = _error_message(err)
            recorder.record(lambda: store.fail(run_id, message, status="failed"))
            raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m recsys_core.runs.worker RUN_ID``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m recsys_core.runs.worker RUN_ID", file=sys.stderr)
        return 2
    try:
        return run_worker(args[0])
    except ConfigError as err:  # no such run, or a bad stored spec that could not even be recorded
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

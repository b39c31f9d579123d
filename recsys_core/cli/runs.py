"""``runs`` and ``worker``: the run store and background jobs from the command line.

``python -m recsys_core runs list|show|submit|cancel|wait|rename|tag|notes|delete|export ...`` and
``python -m recsys_core worker RUN_ID`` (what the scheduler starts). All honour ``RECLAB_HOME`` /
``RECLAB_DB``. ``runs submit`` takes the same data/model/evaluation options as ``train`` (plus
``--dataset NAME`` for a saved dataset, or ``--config FILE`` from ``runs export``), queues the run, starts it
if a slot is free and returns at once (``--wait`` polls until it is done).

The ``train`` command records its run too (see :func:`add_record_args` / :func:`record_train`): by default,
``--no-record`` opts out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from recsys_core.cli import check_output, print_json
from recsys_core.cli.data import (
    add_mapping_args,
    add_preprocess_args,
    add_split_args,
    mapping_from_args,
    preprocess_config,
    split_config,
)
from recsys_core.errors import ConfigError

# ``recsys_core.runs.store.STATUSES``, spelled out so that building the parser does not import the run store
# (SQLAlchemy); a test keeps the two equal
STATUSES = ("queued", "running", "finished", "failed", "cancelled", "interrupted")

SUMMARY_KEYS = (
    "id",
    "name",
    "model",
    "status",
    "metrics",
    "params",
    "tags",
    "dataset_name",
    "device",
    "last_epoch",
    "epochs_total",
    "created_at",
    "started_at",
    "finished_at",
    "error",
)


# ---------------------------------------------------------------------- shared with ``train``
def add_record_args(p: argparse.ArgumentParser) -> None:
    """``--no-record``, ``--name``, ``--tag``, ``--notes``: how a run is recorded in the run store."""
    g = p.add_argument_group("run store")
    g.add_argument("--no-record", action="store_true", help="do not record this run in the run store")
    g.add_argument("--name", help="run name (default: '<model> <run id>'); editable later")
    g.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag; repeatable")
    g.add_argument("--notes", default="", help="free-text notes")


def spec_from_args(args: argparse.Namespace) -> Any:
    """The ``ExperimentSpec`` the ``train``/``runs submit`` options describe."""
    from recsys_core.experiment import ExperimentSpec
    from recsys_core.models.params import parse_param_assignments

    return ExperimentSpec(
        model=args.model,
        params=parse_param_assignments(args.param or []),
        device=args.device,
        seed=args.seed,
        precision=args.precision,
        epochs=args.epochs,
        ks=tuple(args.k),
        early_stopping=args.early_stopping,
        patience=args.patience,
        candidates="sampled" if args.sampled else "full",
        n_negatives=args.sampled or 100,
        relevance_threshold=args.relevance_threshold,
    )


def data_ref_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The data reference (see :mod:`recsys_core.runs.jobs`) the data options describe."""
    from recsys_core.runs.jobs import dataset_ref, file_ref, files_ref

    dataset = getattr(args, "dataset", None)
    given = [x for x in (dataset, args.data, args.train or args.test) if x]
    if len(given) > 1:
        raise ConfigError("Give one of --dataset NAME, --data FILE or --train/--test files.", field="data")
    mapping = mapping_from_args(args)
    version = getattr(args, "dataset_version", None)
    if version and not dataset:
        raise ConfigError("--dataset-version needs --dataset NAME.", field="dataset_version")
    if dataset:
        from recsys_core.data.store import DatasetStore

        # the dataset's own split (what the dashboard trains with), changed only where options are given
        saved = DatasetStore().info(dataset, version)
        split = split_config(args, base=saved.split_config())
        return dataset_ref(dataset, preprocess_config(args), split, fingerprint=version)
    if args.data:
        return file_ref(args.data, preprocess_config(args), split_config(args), mapping=mapping, items=args.items)
    if not (args.train and args.test):
        raise ConfigError(
            "Give --train and --test files (and optionally --val), --data FILE or --dataset NAME.", field="train"
        )
    return files_ref(args.train, args.test, args.val, mapping=mapping, items=args.items)


def record_train(args: argparse.Namespace, spec: Any, data: Any, callbacks: list) -> tuple[str | None, Any]:
    """Run ``train``'s experiment, recorded in the run store unless ``--no-record``; (run id or None, result).

    For ``cli/train.py``: ``run_id, result = record_train(args, spec, data, callbacks)`` replaces its
    ``run_experiment`` call, and ``out["run_id"] = run_id`` goes into the JSON.
    """
    from recsys_core.experiment import run_experiment

    if getattr(args, "no_record", False):
        return None, run_experiment(spec, data, callbacks=callbacks)
    from recsys_core.runs.worker import train_and_record

    return train_and_record(
        spec,
        data,
        data_ref_from_args(args),
        name=getattr(args, "name", None),
        tags=getattr(args, "tag", None) or [],
        notes=getattr(args, "notes", "") or "",
        callbacks=callbacks,
        about=_about_files(args),
    )


def _about_files(args: argparse.Namespace) -> dict[str, Any]:
    path = getattr(args, "data", None) or getattr(args, "train", None)
    return {"dataset_name": Path(path).name} if path else {}


def add_experiment_args(p: argparse.ArgumentParser, *, dataset: bool = True, model_required: bool = False) -> None:
    """The data, model and evaluation options shared by ``train`` and ``runs submit`` (which also takes
    ``--dataset NAME``, and may take the model from ``--config``)."""
    src = p.add_argument_group("data")
    if dataset:
        src.add_argument("--dataset", help="a saved dataset (python -m recsys_core data list)")
        src.add_argument(
            "--dataset-version",
            metavar="FINGERPRINT",
            help="with --dataset: that version of it (current or kept after a replace; `data versions` lists them)",
        )
    src.add_argument("--train", help="training interactions")
    src.add_argument("--test", help="test interactions")
    src.add_argument("--val", help="validation interactions (per-epoch validation, early stopping)")
    src.add_argument("--data", help="one interaction file to preprocess and split (see the split options)")
    src.add_argument("--items", help="item metadata (title, genres) for intra-list diversity")
    add_mapping_args(p)
    add_preprocess_args(p)
    add_split_args(p)
    m = p.add_argument_group("model")
    m.add_argument("--model", required=model_required, help="registered name (python -m recsys_core models)")
    m.add_argument("--param", action="append", metavar="KEY=VALUE", help="a hyperparameter; repeatable")
    m.add_argument("--epochs", type=int, help="override the model's epochs/iterations")
    m.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N, mps")
    m.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="bf16 mixed precision (CUDA)")
    m.add_argument("--early-stopping", metavar="METRIC", help="validation metric to monitor, e.g. ndcg@10 or rmse")
    m.add_argument("--patience", type=int, default=3)
    e = p.add_argument_group("evaluation")
    e.add_argument("--k", type=int, nargs="+", default=[10], help="cutoffs (default 10)")
    e.add_argument("--sampled", type=int, metavar="N", help="sampled ranking with N negatives (labelled sampled)")
    e.add_argument("--relevance-threshold", type=float, help="test ratings >= this are relevant")


# ---------------------------------------------------------------------- commands
def _store() -> Any:
    from recsys_core.runs.store import RunStore

    return RunStore()


def _runner(args: argparse.Namespace) -> Any:
    from recsys_core.runs.jobs import JobRunner

    return JobRunner(_store(), max_concurrent=getattr(args, "max_jobs", None))


def _when(ts: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts)) if ts else "-"


def _headline(metrics: dict[str, Any] | None) -> str:
    if not metrics:
        return ""
    for key in ("ndcg@10", "rmse"):
        if metrics.get(key) is not None:
            return f"{key}={metrics[key]:.4f}"
    key = next((k for k in metrics if k.startswith("ndcg@")), None)
    return f"{key}={metrics[key]:.4f}" if key and metrics[key] is not None else ""


def cmd_list(args: argparse.Namespace) -> int:
    if args.model:
        from recsys_core.models.registry import get_model_class

        get_model_class(args.model)  # an unknown model is refused, listing the models, not "no runs"
    store = _store()
    runs = store.list(status=args.status, model=args.model, dataset=args.dataset, tag=args.tag, limit=args.limit)
    if args.json:
        print_json([{k: r.get(k) for k in SUMMARY_KEYS} for r in runs])
        return 0
    if not runs:
        filters = any(x for x in (args.status, args.model, args.dataset, args.tag))
        if filters and store.list(limit=1):
            print("no runs match these filters (`runs list` without them lists every run)")
        else:
            print("no runs yet (queue one with `python -m recsys_core runs submit ...`)")
    for r in runs:
        epoch = f"{r['last_epoch']}/{r['epochs_total'] or '?'}"
        print(
            f"{r['id']}  {r['status']:<11} {r['model']:<10} {epoch:>7}  {_when(r['created_at'])}  "
            f"{_headline(r['metrics']):<16} {r['name']}"
        )
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    store = _store()
    run = store.get(args.run_id)
    run["progress"] = store.progress(args.run_id)
    run["artifacts"] = {k: str(v) for k, v in run["artifacts"].items()}
    if args.json:
        print_json(run)
        return 0
    p = run["progress"]
    print(f"{run['id']}  {run['name']}  [{run['status']}]")
    print(f"  model     {run['model']} {json.dumps(run['params'])}")
    print(f"  data      {run['dataset_name']} ({(run['dataset_fingerprint'] or '')[:16]})")
    print(f"  device    {run['device'] or '-'} {run['device_name'] or ''}")
    print(f"  epoch     {p['epoch']} of {p['n_epochs'] or '?'}; elapsed {p['elapsed'] or 0:.1f}s")
    if run["tags"]:
        print(f"  tags      {', '.join(run['tags'])}")
    if run["error"]:
        print(f"  error     {run['error']}")
    for h in run["history"]:
        values = {**h["losses"], **h["val"]}
        print(f"  epoch {h['epoch']:>4}: " + " ".join(f"{k}={v:.4f}" for k, v in values.items() if v is not None))
    for key, value in (run["metrics"] or {}).items():
        print(f"  {key:>22}: {value:.4f}" if isinstance(value, (int, float)) else f"  {key:>22}: {value}")
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    runner = _runner(args)
    if args.config:
        config = _read_config(args.config)
        spec, data_ref = config["spec"], config["data"]
        name = args.name or config.get("name")
        tags = args.tag or config.get("tags") or []
    else:
        if not args.model:
            raise ConfigError("Give --model (or --config FILE from `runs export`).", field="model")
        if args.dataset and args.dataset_version:  # a start of it is enough; a wrong one lists the versions
            args.dataset_version = _dataset_version(args.dataset, args.dataset_version)
        spec, data_ref = spec_from_args(args), data_ref_from_args(args)
        name, tags = args.name, args.tag
    run_id = runner.submit(spec, data_ref, name=name, tags=tags, notes=args.notes or "")
    runner.poll()
    if args.wait:
        runner.wait([run_id], timeout=args.timeout)
    run = runner.store.get(run_id, with_history=args.wait)
    if args.json:
        print_json(
            {**{k: run.get(k) for k in SUMMARY_KEYS}, "queue_position": runner.store.progress(run_id)["queue_position"]}
        )
    else:
        print(f"{run_id} {run['status']}")
    return 0 if run["status"] in ("queued", "running", "finished") else 1


def _dataset_version(name: str, given: str) -> str:
    """The full fingerprint of the version of dataset ``name`` that ``--dataset-version`` names: all of it, or
    its start as `data versions` and `runs show` print it (unique among the dataset's versions). Raises
    :class:`ConfigError` listing the versions there are when none (or several) match."""
    from recsys_core.data.store import DatasetStore, check_fingerprint

    store = DatasetStore()
    given = check_fingerprint(given)
    versions = [(store.info(name).fingerprint, "current")] if store.exists(name) else []
    versions += [(k.fingerprint, f"kept, {k.reason}") for k in store.kept_versions(name)]
    matches = sorted({fp for fp, _ in versions if fp.startswith(given)})
    if len(matches) == 1:
        return matches[0]
    listed = "; ".join(f"{fp[:16]} ({about})" for fp, about in versions) or "none"
    if not versions and not store.exists(name):
        store.info(name)  # "No saved dataset named ..." with the saved ones
    what = "several versions" if matches else "no version"
    raise ConfigError(
        f"Dataset '{name}' has {what} with a fingerprint starting '{given}'. Its versions: {listed}.",
        field="dataset_version",
        hint=f"Give one of them with --dataset-version (`python -m recsys_core data versions {name}` lists kept ones).",
    )


def _read_config(path: str) -> dict[str, Any]:
    try:
        config = json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(f"Cannot read the run config '{path}': {err}.", field="config") from None
    if not isinstance(config, dict) or "spec" not in config or "data" not in config:
        raise ConfigError(
            f"'{path}' is not a run config.", field="config", hint="Write one with `runs export ID --out DIR`."
        )
    return config


def cmd_cancel(args: argparse.Namespace) -> int:
    runner = _runner(args)
    out = {run_id: runner.cancel(run_id) for run_id in args.run_ids}
    if args.wait:
        runner.wait(args.run_ids, timeout=args.timeout)
        out = {r: runner.store.get(r, with_history=False)["status"] for r in args.run_ids}
    if args.json:
        print_json(out)
    else:
        for run_id, status in out.items():
            print(f"{run_id} {status}" + (" (cancel requested)" if status == "running" else ""))
    return 0


def cmd_wait(args: argparse.Namespace) -> int:
    runner = _runner(args)
    try:
        runs = runner.wait(args.run_ids or None, timeout=args.timeout, interval=args.interval)
    except TimeoutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if args.json:
        print_json([{k: r.get(k) for k in SUMMARY_KEYS} for r in runs])
    else:
        for r in runs:
            print(f"{r['id']} {r['status']} {_headline(r['metrics'])}".rstrip())
    return 0 if all(r["status"] == "finished" for r in runs) else 1


def cmd_rename(args: argparse.Namespace) -> int:
    _store().rename(args.run_id, args.name)
    print(f"{args.run_id} renamed to '{args.name.strip()}'")
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    tags = _store().tag(args.run_id, add=args.tags, remove=args.remove or [])
    if args.json:
        print_json({"id": args.run_id, "tags": tags})
    else:
        print(f"{args.run_id}: {', '.join(tags) or '(no tags)'}")
    return 0


def cmd_notes(args: argparse.Namespace) -> int:
    _store().set_notes(args.run_id, args.text)
    print(f"{args.run_id}: notes saved")
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    store = _store()
    for run_id in args.run_ids:
        store.delete(run_id, force=args.force)
        print(f"deleted {run_id}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    store = _store()
    store.get(args.run_id, with_history=False)  # an unknown run is said before the folder is checked
    out = check_output(args.out, flag="--out", folder=True)
    there = [p.name for p in (out / f"{args.run_id}.config.json", out / f"{args.run_id}.metrics.csv") if p.exists()]
    if there and not args.overwrite:
        raise ConfigError(
            f"--out '{args.out}' already holds {', '.join(there)}.",
            field="out",
            hint="Add --overwrite to replace them, or give another folder.",
        )
    paths = store.export(args.run_id, out)
    if args.json:
        print_json({k: str(v) for k, v in paths.items()})
    else:
        for kind, path in paths.items():
            print(f"{kind}: {path}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from recsys_core.runs.worker import run_worker

    return run_worker(args.run_id)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``runs`` (with its subcommands) and ``worker`` to the top-level parser."""
    runs = sub.add_parser(
        "runs",
        help="list, show, queue, cancel, wait for, rename, tag, delete and export runs",
        description="The run store ($RECLAB_HOME/reclab.db, or $RECLAB_DB) and its background jobs.",
    )
    rs = runs.add_subparsers(dest="runs_command", required=True, metavar="ACTION")

    p = rs.add_parser("list", help="runs, newest first")
    p.add_argument("--status", nargs="+", choices=STATUSES, metavar="STATUS", help=f"only these: {', '.join(STATUSES)}")
    p.add_argument("--model", help="only this model")
    p.add_argument("--dataset", help="only runs on this dataset name")
    p.add_argument("--tag", help="only runs with this tag")
    p.add_argument("--limit", type=int)
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.set_defaults(func=cmd_list)

    p = rs.add_parser("show", help="one run: params, protocol, status, history, metrics")
    p.add_argument("run_id")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_show)

    p = rs.add_parser("submit", help="queue a training run (same options as train); returns at once")
    p.add_argument("--config", help="a config JSON written by `runs export` (reruns that run)")
    add_experiment_args(p)
    g = p.add_argument_group("run")
    g.add_argument("--name", help="run name")
    g.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag; repeatable")
    g.add_argument("--notes", default="")
    _add_queue_args(p)
    p.add_argument("--wait", action="store_true", help="poll until the run is done")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_submit)

    p = rs.add_parser("cancel", help="cancel queued or running runs")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    _add_queue_args(p)
    p.add_argument("--wait", action="store_true", help="wait until they have stopped")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_cancel)

    p = rs.add_parser("wait", help="run the scheduler until the given runs (default: all active) are done")
    p.add_argument("run_ids", nargs="*", metavar="RUN_ID")
    _add_queue_args(p)
    p.add_argument("--interval", type=float, default=0.5, help="seconds between polls")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_wait)

    p = rs.add_parser("rename", help="give a run a new name")
    p.add_argument("run_id")
    p.add_argument("name")
    p.set_defaults(func=cmd_rename)

    p = rs.add_parser("tag", help="add (or --remove) tags")
    p.add_argument("run_id")
    p.add_argument("tags", nargs="*", metavar="TAG")
    p.add_argument("--remove", nargs="+", metavar="TAG")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_tag)

    p = rs.add_parser("notes", help="replace a run's notes")
    p.add_argument("run_id")
    p.add_argument("text")
    p.set_defaults(func=cmd_notes)

    p = rs.add_parser("delete", help="delete runs and their files")
    p.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    p.add_argument("--force", action="store_true", help="also delete queued/running runs")
    p.set_defaults(func=cmd_delete)

    p = rs.add_parser("export", help="write <id>.config.json (reruns it) and <id>.metrics.csv")
    p.add_argument("run_id")
    p.add_argument("--out", required=True, help="folder to write into (created if missing)")
    p.add_argument("--overwrite", action="store_true", help="replace this run's files already in --out")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("worker", help="(internal) train one queued run; started by the scheduler")
    p.add_argument("run_id")
    p.set_defaults(func=cmd_worker)


def _add_queue_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-jobs", type=int, help="concurrent runs (default $RECLAB_MAX_JOBS, else one per GPU, or 1)")
    p.add_argument("--timeout", type=float, help="give up waiting after this many seconds")

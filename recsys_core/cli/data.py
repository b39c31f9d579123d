"""``data`` commands: inspect a file, prepare train/validation/test files, generate synthetic data,
and manage saved datasets."""

from __future__ import annotations

import argparse
import re
import sys
import time

from recsys_core.cli import check_output, print_json
from recsys_core.data.interactions import Interactions
from recsys_core.data.load import load_interactions
from recsys_core.data.preprocess import preprocess
from recsys_core.data.profile import profile
from recsys_core.data.schema import DATASET_SPLIT, ColumnMapping, PreprocessConfig, SplitConfig
from recsys_core.data.split import split
from recsys_core.data.store import DatasetStore
from recsys_core.errors import ConfigError


def add_mapping_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("column mapping (detected from names and content unless given)")
    g.add_argument("--user-col", help="column with user ids")
    g.add_argument("--item-col", help="column with item ids")
    g.add_argument("--rating-col", help="column with ratings or counts ('none' for implicit data)")
    g.add_argument("--timestamp-col", help="column with timestamps ('none' if there are none)")


def mapping_from_args(args: argparse.Namespace) -> dict | None:
    given = {
        "user": args.user_col,
        "item": args.item_col,
        "rating": args.rating_col,
        "timestamp": args.timestamp_col,
    }
    if all(v is None for v in given.values()):
        return None
    return {k: (None if v == "none" else v) for k, v in given.items() if v is not None}


def add_preprocess_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("preprocessing")
    g.add_argument("--duplicates", default="last", choices=["first", "last", "mean", "max", "sum"])
    g.add_argument("--implicit-threshold", type=float, help="ratings >= this become positives; others dropped")
    g.add_argument("--min-user", type=int, default=0, help="k-core: min interactions per user")
    g.add_argument("--min-item", type=int, default=0, help="k-core: min interactions per item")
    g.add_argument("--normalise", default="none", choices=["none", "global", "user_mean", "user_zscore"])
    g.add_argument(
        "--pseudonymise-users", action="store_true", help="replace user ids by 1..n; no mapping is kept (privacy)"
    )


def preprocess_config(args: argparse.Namespace) -> PreprocessConfig:
    return PreprocessConfig(
        duplicates=args.duplicates,
        implicit_threshold=args.implicit_threshold,
        min_user_interactions=args.min_user,
        min_item_interactions=args.min_item,
        normalisation=args.normalise,
        pseudonymise_users=args.pseudonymise_users,
    )


SEED_MAX = 2**31 - 1  # the dashboard's seed inputs have the same range (as ExperimentSpec checks)


def seed_arg(text: str) -> int:
    """argparse ``type`` of a seed option: an integer from 0 to :data:`SEED_MAX`."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 0 <= value <= SEED_MAX:
        raise argparse.ArgumentTypeError(f"a seed is a whole number from 0 to {SEED_MAX:,}; got '{text}'")
    return value


def add_split_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("split")
    # no argparse defaults: an option left out takes the saved dataset's split (runs submit --dataset) or
    # SplitConfig's default (user_random, test 0.2, no validation); see split_config
    g.add_argument(
        "--split",
        choices=["random", "user_random", "temporal", "user_temporal"],
        help="default user_random (with --dataset: the dataset's saved split)",
    )
    g.add_argument("--test-fraction", type=float, help="default 0.2 (with --dataset: the dataset's saved split)")
    g.add_argument(
        "--val-fraction",
        type=float,
        help="default 0, no validation part (data save: 0.1; with --dataset: the dataset's saved split)",
    )
    g.add_argument("--leave-last", type=int, help="user_temporal: this many latest interactions per user to test")
    g.add_argument("--val-last", type=int, help="user_temporal: this many before them to validation")
    g.add_argument("--seed", type=seed_arg, default=42, help=f"random seed, 0 to {SEED_MAX:,} (default 42)")
    g.add_argument(
        "--split-seed",
        type=seed_arg,
        help="seed of the random split when it differs from --seed (the dashboard saves its split's own seed)",
    )


def split_config(args: argparse.Namespace, base: SplitConfig | None = None) -> SplitConfig:
    """The split the options describe: each option given replaces that field of ``base`` (a saved dataset's
    split, whose seed then stays unless ``--split-seed`` is given), or of SplitConfig's defaults with the seed
    ``--seed`` (``--split-seed`` when given)."""
    start = (base or SplitConfig(seed=args.seed)).to_dict()
    given = {
        "method": args.split,
        "test_fraction": args.test_fraction,
        "val_fraction": args.val_fraction,
        "test_last_n": args.leave_last,
        "val_last_n": args.val_last,
        "seed": getattr(args, "split_seed", None),
    }
    if args.split is not None and args.split != "user_temporal":
        start.update(test_last_n=None, val_last_n=None)  # counts per user belong to user_temporal alone
    return SplitConfig.from_dict({**start, **{k: v for k, v in given.items() if v is not None}})


def _load(args: argparse.Namespace):
    mapping = mapping_from_args(args)
    if mapping is not None and not {"user", "item"} <= mapping.keys():
        # a partial override: start from detection and replace what was given
        detected = load_interactions(args.file).mapping.to_dict()
        mapping = {**detected, **mapping}
    return load_interactions(args.file, mapping=ColumnMapping(**mapping) if mapping else None)


def cmd_inspect(args: argparse.Namespace) -> int:
    loaded = _load(args)
    prof = profile(loaded.frame)
    summary = {
        "file": loaded.info.source,
        "format": loaded.info.format,
        "mapping": loaded.mapping.to_dict(),
        "users": prof.counts.users,
        "items": prof.counts.items,
        "interactions": prof.counts.interactions,
        "density": prof.density,
        "implicit": "rating" not in loaded.frame.columns,
        **prof.facts,
        "warnings": [w.message for w in loaded.warnings],
    }
    if args.json:
        print_json(summary)
        return 0
    for key, value in summary.items():
        if key != "warnings":
            print(f"{key:>22}: {value}")
    for w in loaded.warnings:
        print(f"warning: {w.message}")
    return 0


PREPARED_FILES = ("train.csv", "val.csv", "test.csv")


def cmd_prepare(args: argparse.Namespace) -> int:
    out = check_output(args.out, flag="--out", folder=True)
    there = [name for name in PREPARED_FILES if (out / name).exists()]
    if there and not args.overwrite:
        raise ConfigError(
            f"--out '{args.out}' already holds {', '.join(there)}.",
            field="out",
            hint="Add --overwrite to replace them, or give another folder.",
        )
    loaded = _load(args)
    result = preprocess(loaded.frame, preprocess_config(args))
    parts = split(Interactions.from_frame(result.frame), split_config(args))
    out.mkdir(parents=True, exist_ok=True)
    if parts.val is None and (out / "val.csv").exists():
        (out / "val.csv").unlink()  # --overwrite: a val.csv from an earlier split does not belong to this one
    written = {}
    for name, part in (("train", parts.train), ("val", parts.val), ("test", parts.test)):
        if part is None:
            continue
        path = out / f"{name}.csv"
        part.to_frame().to_csv(path, index=False)
        written[name] = {"path": str(path), **part.counts().to_dict()}
    report = {"steps": [r.to_dict() for r in result.reports], "files": written}
    if args.json:
        print_json(report)
    else:
        for r in result.reports:
            print(f"{r.step:>12}: {r.before.interactions:,} → {r.after.interactions:,} interactions  {r.note}")
        for name, info in written.items():
            print(f"{name:>12}: {info['interactions']:,} interactions, {info['users']:,} users → {info['path']}")
    return 0


# the generator's argument names, as the ``data synthetic`` flags that set them
_SYNTHETIC_FLAGS = {"n_users": "--users", "n_items": "--items", "n_interactions": "--interactions"}


def _synthetic_flags(text: str) -> str:
    text = re.sub(r"\b(n_users|n_items|n_interactions)\b", lambda m: _SYNTHETIC_FLAGS[m.group(1)], text)
    return text.replace("or the number of interactions", "or --interactions")


def cmd_synthetic(args: argparse.Namespace) -> int:
    from recsys_core.data.synthetic import generate_synthetic

    out = check_output(args.out, flag="--out")
    items_out = check_output(args.items_out, flag="--items-out") if args.items_out else None
    try:
        data = generate_synthetic(
            n_users=args.users, n_items=args.items, n_interactions=args.interactions, seed=args.seed,
            implicit=args.implicit,
        )  # fmt: skip
    except ConfigError as err:  # it names its arguments; say the flags
        field = _SYNTHETIC_FLAGS.get(err.field or "", err.field)
        raise ConfigError(_synthetic_flags(str(err)), field=field) from None
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        data.interactions.to_parquet(out, index=False)
    else:
        data.interactions.to_csv(out, index=False)
    if items_out is not None:
        items_out.parent.mkdir(parents=True, exist_ok=True)
        items = data.items.assign(genres=data.items["genres"].map("|".join))
        items.to_csv(items_out, index=False)
    print(f"wrote {len(data.interactions):,} interactions to {out}")
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    store = DatasetStore()
    if store.exists(args.name) and not args.replace:
        raise ConfigError(
            f"A dataset named '{args.name}' already exists.",
            field="name",
            hint="Add --replace to replace it (runs trained on it keep their version), or choose another --name.",
        )
    # the split it trains with, saved with it: DATASET_SPLIT (the dashboard's) changed where options are given
    split = split_config(args, base=SplitConfig.from_dict({**DATASET_SPLIT.to_dict(), "seed": args.seed}))
    loaded = _load(args)
    config = preprocess_config(args)
    result = preprocess(loaded.frame, config)
    items = None
    if args.items:
        from recsys_core.data.metadata import check_metadata_coverage, read_item_metadata

        items, meta_warnings = read_item_metadata(args.items)
        # the same checks as the dashboard's Data page: metadata that matches nothing is kept, but said
        for w in [*meta_warnings, *check_metadata_coverage(items, result.frame)]:
            print(f"warning: {args.items}: {w.message}", file=sys.stderr)
    info = store.save(
        args.name, result.frame, items=items, source={"kind": "file", **loaded.info.to_dict()},
        preprocess=config.to_dict(), reports=[r.to_dict() for r in result.reports], split=split.to_dict(),
        overwrite=args.replace,
    )  # fmt: skip
    if args.json:
        print_json(info.__dict__)
    else:
        print(f"saved '{info.name}': {info.n_interactions:,} interactions, fingerprint {info.fingerprint[:16]}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    store = DatasetStore()
    infos = store.list()
    if args.json:
        print_json([i.__dict__ for i in infos])
        return 0
    if not infos:
        print("no saved datasets (save one with `python -m recsys_core data save FILE --name NAME`)")
    for i in infos:
        print(f"{i.name:<30} {i.n_interactions:>12,} interactions  {i.n_users:>9,} users  {i.n_items:>9,} items")
    kept = store.kept_versions()
    if kept:
        size = _size(sum(k.n_bytes for k in kept))
        print(f"+ {len(kept)} older version(s) kept for runs ({size}): see `data versions`, free with `data prune`")
    return 0


def _size(n_bytes: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n_bytes < 1024 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes} B"


def _version_row(k) -> dict:
    return {
        "name": k.name,
        "fingerprint": k.fingerprint,
        "reason": k.reason,
        "kept_at": k.kept_at,
        "bytes": k.n_bytes,
        "n_interactions": k.info.n_interactions if k.info else None,
        "path": str(k.path),
    }


def cmd_delete(args: argparse.Namespace) -> int:
    from recsys_core.runs.jobs import prune_dataset_versions

    store = DatasetStore()
    if not store.exists(args.name) and not (args.all_versions and store.kept_versions(args.name)):
        raise ConfigError(f"No saved dataset named '{args.name}'.", field="name")
    if args.all_versions:
        store.delete(args.name, all_versions=True)
        print(f"deleted '{args.name}' and every kept version of it")
        return 0
    store.delete(args.name)
    removed = {k.fingerprint for k in prune_dataset_versions(args.name, datasets=store)}
    kept = [k for k in store.kept_versions(args.name) if k.fingerprint not in removed]
    print(f"deleted '{args.name}'")
    if kept:
        size = _size(sum(k.n_bytes for k in kept))
        print(
            f"kept {len(kept)} version(s) ({size}) that runs were trained on, so they still load; "
            f"`data prune {args.name}` removes them once those runs are deleted, "
            f"`data delete {args.name} --all-versions` at once"
        )
    return 0


def _check_known(store: DatasetStore, name: str | None) -> None:
    """Refuse a dataset name that is neither saved nor has kept versions (``data versions/prune NAME``)."""
    if name is not None and not store.exists(name) and not store.kept_versions(name):
        raise ConfigError(
            f"No saved dataset named '{name}', and no kept versions of one.",
            field="name",
            hint=f"Saved datasets: {', '.join(store.names()) or 'none yet'} (`data list`).",
        )


def cmd_versions(args: argparse.Namespace) -> int:
    store = DatasetStore()
    _check_known(store, args.name)
    kept = store.kept_versions(args.name)
    if args.json:
        print_json([_version_row(k) for k in kept])
        return 0
    if not kept:
        print(f"no kept versions of '{args.name}'" if args.name else "no kept versions")
    for k in kept:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.kept_at))
        n = f"{k.info.n_interactions:>12,} interactions" if k.info else f"{'(unreadable)':>25}"
        print(f"{k.name:<30} {k.fingerprint[:16]}  {k.reason} {when}  {n}  {_size(k.n_bytes):>9}")
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from recsys_core.runs.jobs import prune_dataset_versions

    store = DatasetStore()
    _check_known(store, args.name)
    gone = prune_dataset_versions(args.name, datasets=store, dry_run=args.dry_run)
    if args.json:
        print_json([_version_row(k) for k in gone])
        return 0
    verb = "would remove" if args.dry_run else "removed"
    for k in gone:
        print(f"{verb} {k.name} {k.fingerprint[:16]} ({_size(k.n_bytes)})")
    gone_keys = {(k.name, k.fingerprint) for k in gone}
    left = [k for k in store.kept_versions(args.name) if (k.name, k.fingerprint) not in gone_keys]
    print(f"{verb} {len(gone)} kept version(s) ({_size(sum(k.n_bytes for k in gone))}); {len(left)} kept for runs")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    data = sub.add_parser("data", help="inspect, prepare and save interaction data")
    dsub = data.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    p = dsub.add_parser("inspect", help="read and validate a file, print its profile and warnings")
    p.add_argument("file")
    add_mapping_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_inspect)

    p = dsub.add_parser("prepare", help="preprocess and split a file into train/val/test CSVs")
    p.add_argument("file")
    p.add_argument("--out", required=True, help="output folder for train.csv, val.csv, test.csv")
    p.add_argument("--overwrite", action="store_true", help="replace train/val/test.csv already in --out")
    add_mapping_args(p)
    add_preprocess_args(p)
    add_split_args(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prepare)

    p = dsub.add_parser("synthetic", help="generate a synthetic interaction log with real structure")
    p.add_argument("--out", required=True, help="CSV or .parquet file to write")
    p.add_argument("--items-out", help="also write item metadata (CSV)")
    p.add_argument("--users", type=int, default=2_000)
    p.add_argument("--items", type=int, default=1_000)
    p.add_argument("--interactions", type=int, default=100_000)
    p.add_argument("--seed", type=seed_arg, default=42)
    p.add_argument("--implicit", action="store_true", help="no rating column")
    p.set_defaults(func=cmd_synthetic)

    p = dsub.add_parser("save", help="preprocess a file and save it as a named dataset (Parquet)")
    p.add_argument("file")
    p.add_argument("--name", required=True)
    p.add_argument("--items", help="item metadata file")
    p.add_argument("--replace", action="store_true", help="replace a dataset of the same name")
    add_mapping_args(p)
    add_preprocess_args(p)
    add_split_args(p)  # the split saved with it (default: 20% test, 10% validation, per user)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_save)

    p = dsub.add_parser("list", help="list saved datasets")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)

    p = dsub.add_parser(
        "delete", help="delete a saved dataset (versions runs were trained on are kept until those runs are gone)"
    )
    p.add_argument("name")
    p.add_argument("--all-versions", action="store_true", help="also remove the versions runs were trained on")
    p.set_defaults(func=cmd_delete)

    p = dsub.add_parser("versions", help="list the older dataset versions kept for runs, with their size")
    p.add_argument("name", nargs="?", help="only this dataset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_versions)

    p = dsub.add_parser("prune", help="remove kept dataset versions that no run in the run store needs")
    p.add_argument("name", nargs="?", help="only this dataset")
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_prune)

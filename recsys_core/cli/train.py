"""``train`` and ``models``: train a registered model and evaluate it; list the models and their schemas."""

from __future__ import annotations

import argparse
import sys

from recsys_core.cli import check_output, print_json
from recsys_core.cli.data import (
    mapping_from_args,
    preprocess_config,
    split_config,
)
from recsys_core.cli.runs import add_experiment_args, add_record_args, record_train, spec_from_args
from recsys_core.data.load import load_interactions
from recsys_core.data.schema import ColumnMapping
from recsys_core.errors import ConfigError
from recsys_core.experiment import (
    PreparedData,
    prepare_from_frame,
    prepare_from_parts,
    recommendations_frame,
)
from recsys_core.models.registry import describe_models


def _load(path: str | None, args: argparse.Namespace):
    if path is None:
        return None
    mapping = mapping_from_args(args)
    if mapping is not None and not {"user", "item"} <= mapping.keys():
        mapping = {**load_interactions(path).mapping.to_dict(), **mapping}
    return load_interactions(path, mapping=ColumnMapping(**mapping) if mapping else None)


def prepare_data(args: argparse.Namespace) -> PreparedData:
    items = None
    if args.items:
        from recsys_core.data.metadata import read_item_metadata

        items, _ = read_item_metadata(args.items)
    if args.data:
        if args.train or args.test:
            raise ConfigError("Give either --data FILE or --train/--test files, not both.", field="data")
        return prepare_from_frame(
            _load(args.data, args).frame, preprocess_config(args), split_config(args), items=items
        )
    if not (args.train and args.test):
        raise ConfigError("Give --train and --test files (and optionally --val), or --data FILE.", field="train")
    val = _load(args.val, args)
    return prepare_from_parts(
        _load(args.train, args).frame,
        _load(args.test, args).frame,
        val.frame if val is not None else None,
        items=items,
    )


def _progress(record, model) -> None:
    losses = " ".join(f"{k}={v:.4f}" for k, v in record.losses.items())
    val = " ".join(f"{k}={v:.4f}" for k, v in record.val.items())
    print(f"epoch {record.epoch}/{model.n_epochs}: {losses} {val} ({record.seconds:.2f}s)".rstrip(), file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from recsys_core.device import resolve_device

    spec = spec_from_args(args)
    resolve_device(spec.device)  # an unavailable device is refused here, before a run is recorded
    # outputs are checked before training, so a bad path does not cost a whole training run
    save_recs = check_output(args.save_recs, flag="--save-recs") if args.save_recs else None
    save_model = check_output(args.save_model, flag="--save-model", folder=True) if args.save_model else None
    data = prepare_data(args)
    from recsys_core.preflight import check_spec, summarize_prepared

    check_spec(spec, summarize_prepared(data, f"file '{args.data or args.train}'"))
    run_id, result = record_train(args, spec, data, [] if args.quiet else [_progress])
    if save_recs is not None:
        save_recs.parent.mkdir(parents=True, exist_ok=True)
        recommendations_frame(result.model, data, k=max(spec.ks)).to_csv(save_recs, index=False)
    if save_model is not None:
        result.model.save(save_model)
    out = result.to_dict()
    out["run_id"] = run_id
    if args.json:
        print_json(out)
        return 0
    print(f"{spec.model} on {result.device}: fit {result.fit.fit_seconds:.2f}s, {result.protocol['label']}")
    for key, value in result.metrics.items():
        print(f"{key:>22}: {value:.4f}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from recsys_core.models.params import format_bound

    models = describe_models()
    if args.json:
        print_json(models)
        return 0
    for m in models:
        print(f"{m['name']} ({m['task']}): {m['description']}")
        for p in m["params"]:
            bounds = f"[{format_bound(p['low'])}, {format_bound(p['high'])}]"
            rng = bounds if p["kind"] in ("int", "float") else str(p["choices"] or "")
            print(f"    {p['name']:<14} {p['kind']:<6} default {p['default']!s:<10} {rng:<18} {p['help']}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model and evaluate it (full ranking, or RMSE/MAE for rating models)",
        description="Train on --train/--test[/--val] CSVs (user,item[,rating][,timestamp]) or on --data FILE "
        "with the preprocessing and split options, then evaluate on the test part.",
    )
    add_experiment_args(p, dataset=False, model_required=True)
    o = p.add_argument_group("output")
    o.add_argument("--json", action="store_true", help="print one JSON object")
    o.add_argument(
        "--save-recs",
        metavar="CSV",
        help="write every user's top-K (user,item,score,rank); missing folders are created, a file there replaced",
    )
    o.add_argument("--save-model", metavar="DIR", help="save the trained model (safetensors + JSON)")
    o.add_argument("--quiet", action="store_true", help="no per-epoch progress on stderr")
    add_record_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("models", help="list models and their hyperparameters")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_models)

"""``evaluate``: metrics of recommendation lists (and rating predictions) given as files."""

from __future__ import annotations

import argparse
import sys

from recsys_core.cli import print_json
from recsys_core.data.load import load_interactions
from recsys_core.data.readers import read_table
from recsys_core.errors import ConfigError
from recsys_core.evaluation.files import evaluate_predictions, evaluate_recommendations
from recsys_core.evaluation.protocol import EvalProtocol


def _read_plain(path: str):
    frame, _ = read_table(path)
    return frame


def cmd_evaluate(args: argparse.Namespace) -> int:
    if not args.recommendations and not args.predictions:
        raise ConfigError("Give --recommendations and/or --predictions.", field="recommendations")
    truth = load_interactions(args.truth).frame
    train = load_interactions(args.train).frame if args.train else None
    out: dict = {}
    notes: list[str] = []
    if args.recommendations:
        protocol = EvalProtocol(
            ks=tuple(args.k),
            relevance_threshold=args.relevance_threshold,
            map_normaliser=args.map_normaliser,
            beyond=("coverage", "gini", "novelty", "avg_popularity", "personalisation"),
        )
        ev = evaluate_recommendations(
            _read_plain(args.recommendations),
            truth,
            train=train,
            protocol=protocol,
            files=(args.recommendations, args.truth),
        )
        out.update(ev.result.metrics)
        out["n_users"] = ev.result.n_users
        out["n_users_skipped"] = ev.result.n_skipped
        out["protocol"] = "full ranking" + (", training items excluded" if train is not None else "")
        if ev.n_seen_removed:
            notes.append(f"removed {ev.n_seen_removed:,} recommended items that were in the users' training data")
        if ev.n_users_without_recommendations:
            notes.append(f"{ev.n_users_without_recommendations:,} test users had no recommendations (count as 0)")
    if args.predictions:
        pred = evaluate_predictions(_read_plain(args.predictions), truth, files=(args.predictions, args.truth))
        out.update({"rmse": pred["rmse"], "mae": pred["mae"], "n_pairs": pred["n_pairs"]})
        if pred["n_missing"]:
            notes.append(f"{pred['n_missing']:,} test pairs had no prediction and were left out")
    if args.json:
        print_json({**out, "notes": notes})
        return 0
    for key, value in out.items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"{key:>22}: {shown}")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="metrics of recommendation lists / rating predictions against test interactions",
        description="Full-ranking top-K metrics (ties by lower item id) of recommendation lists, and RMSE/MAE of "
        "predictions. Recommendations: user,item,score or user,item,rank. Truth: user,item[,rating].",
    )
    p.add_argument("--recommendations", "-r", help="CSV with user,item,score (or rank)")
    p.add_argument("--truth", "-t", required=True, help="test interactions: user,item[,rating]")
    p.add_argument("--train", help="training interactions: excluded from the lists, popularity for novelty")
    p.add_argument("--predictions", "-p", help="CSV with user,item,prediction (needs a rating column in --truth)")
    p.add_argument("--k", type=int, nargs="+", default=[10], help="cutoffs (default 10)")
    p.add_argument("--relevance-threshold", type=float, help="test ratings >= this are relevant (default: all)")
    p.add_argument("--map-normaliser", choices=["min_k_rel", "n_rel"], default="min_k_rel")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_evaluate)

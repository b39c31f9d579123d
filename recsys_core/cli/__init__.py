"""Command line: ``python -m recsys_core <command> ...``.

Each command family lives in its own module and registers its subcommands with :func:`register`. Errors
the user can fix (bad files, bad options) print one clear message to stderr and exit with status 2;
``--json`` output goes to stdout only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from recsys_core.errors import ConfigError, DataError, RecLabError

EXIT_USAGE = 2


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, indent=2, default=_json_default)
    sys.stdout.write("\n")


def _json_default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def build_parser() -> argparse.ArgumentParser:
    from recsys_core.cli import data as data_cmd
    from recsys_core.cli import evaluate as evaluate_cmd
    from recsys_core.cli import runs as runs_cmd
    from recsys_core.cli import train as train_cmd

    parser = argparse.ArgumentParser(
        prog="python -m recsys_core",
        description="RecLab engine: data preparation, training, evaluation and runs from the command line.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    data_cmd.register(sub)
    evaluate_cmd.register(sub)
    train_cmd.register(sub)
    runs_cmd.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except DataError as err:
        print(f"error: {err.message}", file=sys.stderr)
        if getattr(args, "json", False):
            print_json({"error": err.to_dict()})
        return EXIT_USAGE
    except (ConfigError, RecLabError) as err:
        print(f"error: {err}", file=sys.stderr)
        if getattr(args, "json", False):
            print_json({"error": {"message": str(err)}})
        return EXIT_USAGE

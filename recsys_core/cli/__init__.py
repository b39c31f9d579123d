"""Command line: ``python -m recsys_core <command> ...``.

Each command family lives in its own module and registers its subcommands with :func:`register`. Errors
the user can fix (bad files, bad options) print one clear message to stderr and exit with status 2;
``--json`` output goes to stdout only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
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


def check_output(path: str, *, flag: str, folder: bool = False) -> Path:
    """Refuse an output path that cannot be written, before any work is done; returns it as a ``Path``.

    ``folder``: the path is a folder to write files into, created here with its parents when missing;
    otherwise a file (its missing parent folders are created when it is written). Raises :class:`ConfigError` naming
    ``flag`` when the path is a file where a folder is wanted (or the reverse), or when the nearest existing
    folder above it is not a writable folder.
    """
    out = Path(path).expanduser()
    if folder and out.exists() and not out.is_dir():
        raise ConfigError(
            f"{flag} '{path}' is a file, not a folder.", field=flag, hint=f"Give a folder to write into with {flag}."
        )
    if not folder and out.is_dir():
        raise ConfigError(
            f"{flag} '{path}' is a folder.", field=flag, hint=f"Give a file name with {flag}, e.g. '{out / 'out.csv'}'."
        )
    parent = out if folder else out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(
            f"Cannot write {flag} '{path}': '{parent}' is a file, not a folder.", field=flag,
            hint=f"Give {flag} a path in a folder you can write to.",
        )  # fmt: skip
    problem = None if os.access(parent, os.W_OK | os.X_OK) else "Permission denied"
    if folder and problem is None:
        try:
            out.mkdir(parents=True, exist_ok=True)  # (it would be created anyway; some places refuse it)
        except OSError as err:
            problem = err.strerror or str(err)
    if problem is not None:
        raise ConfigError(
            f"Cannot write {flag} '{path}' ({problem}).", field=flag,
            hint=f"Give {flag} a path in a folder you can write to.",
        )  # fmt: skip
    return out


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
        code = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here (``runs list | head``), not at interpreter exit
        return code
    except BrokenPipeError:
        # the reader (``head``, ``grep -q``) stopped reading: what it wanted was written; exit quietly, and point
        # stdout at /dev/null so the interpreter's last flush does not fail again
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 0
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
    except OSError as err:  # a file or folder the command reads or writes (the checks above cover the usual ones)
        where = f" '{err.filename}'" if err.filename else ""
        print(f"error: cannot use{where}: {err.strerror or err}. Check the path and its permissions.", file=sys.stderr)
        if getattr(args, "json", False):
            print_json({"error": {"message": f"{err.strerror or err}", "file": err.filename}})
        return EXIT_USAGE

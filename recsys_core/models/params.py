"""Hyperparameter schemas: one typed field per hyperparameter, driving the form, the CLI and validation."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from recsys_core.errors import ConfigError

ParamKind = Literal["int", "float", "choice", "bool"]


@dataclass(frozen=True)
class Param:
    """One hyperparameter.

    Attributes:
        name: the public name (``factors``, ``l2``, ...), used by the form, ``--param name=value`` and configs.
        kind: ``int``, ``float``, ``choice`` or ``bool``.
        default: value used when not given.
        low / high: inclusive range for ``int`` and ``float``.
        choices: allowed values for ``choice``.
        log: the range is best explored on a log scale (sliders and sweeps use it).
        help: one line shown in the form and ``models`` listing.
    """

    name: str
    kind: ParamKind
    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] | None = None
    log: bool = False

    def describe_range(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(str(c) for c in self.choices or ())
        if self.kind == "bool":
            return "true or false"
        return f"in [{format_bound(self.low)}, {format_bound(self.high)}]"

    def validate(self, value: Any) -> Any:
        """Coerce ``value`` (possibly a string from the command line) and check it; ConfigError if invalid."""
        what = {"int": "an integer", "float": "a number", "bool": "true or false", "choice": "a value"}[self.kind]
        bad = ConfigError(
            f"{self.name} must be {what} {self.describe_range()}; got {value!r}.",
            field=self.name,
            hint=self.help,
        )
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
                return value.strip().lower() in {"true", "1", "yes"}
            raise bad
        if self.kind == "choice":
            assert self.choices is not None
            for c in self.choices:
                if value == c or (isinstance(value, str) and str(c) == value.strip()):
                    return c
            raise bad
        try:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
        except (TypeError, ValueError):
            raise bad from None
        if not math.isfinite(number):
            raise bad
        if self.kind == "int":
            if number != int(number):
                raise bad
            number = int(number)
        if (self.low is not None and number < self.low) or (self.high is not None and number > self.high):
            raise bad
        return number

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["choices"] = list(self.choices) if self.choices is not None else None
        return d


def format_bound(x: float | None) -> str:
    """A range bound as people write it: 1,048,576 and 1,000,000 (not 1.04858e+06), 0.01, 1e-05."""
    if x is None:
        return "…"
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


def validate_params(schema: Sequence[Param], given: Mapping[str, Any], *, model: str = "model") -> dict[str, Any]:
    """Defaults overlaid with ``given``, each value validated. Unknown names raise ConfigError listing known ones."""
    known = {p.name: p for p in schema}
    unknown = [k for k in given if k not in known]
    if unknown:
        raise ConfigError(
            f"{model} has no hyperparameter {', '.join(repr(u) for u in unknown)}.",
            field=unknown[0],
            hint=f"Its hyperparameters: {', '.join(known) or 'none'}.",
        )
    return {name: p.validate(given[name]) if name in given else p.default for name, p in known.items()}


def parse_param_assignments(items: Sequence[str]) -> dict[str, str]:
    """``["factors=64", "reg=0.01"]`` → ``{"factors": "64", "reg": "0.01"}`` (values validated later)."""
    out: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--param expects key=value; got {item!r}.", field="param")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out

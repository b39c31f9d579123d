"""The model registry: public name → class. Model modules register themselves with :func:`register`."""

from __future__ import annotations

from typing import Any

from recsys_core.errors import ConfigError
from recsys_core.models.base import Recommender

_REGISTRY: dict[str, type[Recommender]] = {}


def register(cls: type[Recommender]) -> type[Recommender]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"model name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def _ensure_loaded() -> None:
    import recsys_core.models  # noqa: F401  (imports every model module, which registers it)


def model_names() -> list[str]:
    _ensure_loaded()
    return list(_REGISTRY)


def get_model_class(name: str) -> type[Recommender]:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"Unknown model '{name}'.", field="model", hint=f"Available: {', '.join(_REGISTRY)}."
        ) from None


def create(name: str, **kwargs: Any) -> Recommender:
    """Instantiate a registered model with validated hyperparameters (plus ``device``, ``seed``, ``precision``)."""
    return get_model_class(name)(**kwargs)


def describe_models() -> list[dict[str, Any]]:
    """Every model with its description, task and hyperparameter schema (for the UI and ``models --json``)."""
    _ensure_loaded()
    return [
        {
            "name": cls.name,
            "description": cls.description,
            "task": cls.task,
            "needs_ratings": cls.needs_ratings,
            "params": [p.to_dict() for p in cls.schema],
        }
        for cls in _REGISTRY.values()
    ]

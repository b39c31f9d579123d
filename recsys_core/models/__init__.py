"""Models: one module per family, each registering its classes in :mod:`recsys_core.models.registry`."""

from recsys_core.models.base import Contribution, Recommender, load_model
from recsys_core.models.registry import create, describe_models, get_model_class, model_names

__all__ = [
    "Contribution",
    "Recommender",
    "create",
    "describe_models",
    "get_model_class",
    "load_model",
    "model_names",
]

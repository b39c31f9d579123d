"""Models: one module per family, each registering its classes in :mod:`recsys_core.models.registry`.

Registered names: ``popularity``, ``itemknn``, ``ease``, ``ials``, ``bpr``, ``biased_mf``, ``mlp``.
"""

# Importing a model module registers it; the order here is the order the model picker lists them.
# isort: off
from recsys_core.models import popularity, neighbors, linear, als, bpr, mf, mlp  # noqa: F401

# isort: on
from recsys_core.models.base import Contribution, Recommender, load_model
from recsys_core.models.registry import create, describe_models, get_model_class, model_names

__all__ = ["Contribution", "Recommender", "create", "describe_models", "get_model_class", "load_model", "model_names"]

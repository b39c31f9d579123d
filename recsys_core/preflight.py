"""Checks an experiment against its data *before* it is queued, so a run that can only fail is never started.

A worker finds some mistakes only after loading the data and training an epoch: a rating model on implicit
data, early stopping on a metric validation never reports, early stopping without a validation part, an
evaluation cutoff K larger than the number of items. The
checks here need only the spec and a few facts about the data (:class:`DataSummary`, cheap to get from a
saved dataset's ``dataset.json``), so the dashboard can show the problem next to the model picker and the
command line can refuse the job at once::

    summary = summarize_dataset("ml-100k", split=SplitConfig(val_fraction=0.1))
    check_spec(spec, summary)            # ConfigError saying what is wrong and what to choose instead
    validation_metrics("bpr", ks=(10, 20))   # ['ndcg@10', 'ndcg@20', 'recall@10', 'recall@20']

Unknown facts (``None``) are never held against a spec: the worker still checks them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from recsys_core.data.schema import PreprocessConfig, SplitConfig
from recsys_core.errors import ConfigError
from recsys_core.models.params import validate_params
from recsys_core.models.registry import get_model_class, model_names

# What the per-epoch validator reports for ranking models (see recsys_core.evaluation.protocol.validator).
RANKING_VALIDATION = ("ndcg", "recall")
RATING_VALIDATION = ("rmse", "mae")


@dataclass(frozen=True)
class DataSummary:
    """What the checks need to know about the data a run trains on.

    Attributes:
        label: how the user knows the data, for messages (e.g. ``"dataset 'ml-100k'"``).
        has_rating: whether the training part has explicit ratings (None: not known).
        has_validation: whether the split has a validation part (None: not known).
        n_items: how many items the data has (None: not known); no top-K list is longer.
    """

    label: str
    has_rating: bool | None = None
    has_validation: bool | None = None
    n_items: int | None = None


def _split_has_validation(split: SplitConfig | Mapping[str, Any] | None) -> bool:
    if split is None:
        return False
    s = split if isinstance(split, SplitConfig) else SplitConfig.from_dict(dict(split))
    return bool(s.val_fraction or s.val_last_n)


def _keeps_ratings(preprocess: PreprocessConfig | Mapping[str, Any] | None) -> bool:
    if preprocess is None:
        return True
    p = preprocess if isinstance(preprocess, PreprocessConfig) else PreprocessConfig.from_dict(dict(preprocess))
    return p.implicit_threshold is None  # a threshold turns ratings into implicit positives


def summarize_dataset(
    name: str,
    *,
    split: SplitConfig | Mapping[str, Any] | None = None,
    preprocess: PreprocessConfig | Mapping[str, Any] | None = None,
    fingerprint: str | None = None,
) -> DataSummary:
    """Facts about a saved dataset, its current version or the one with ``fingerprint`` (read from its
    ``dataset.json``; the interactions are not loaded)."""
    from recsys_core.data.store import DatasetStore

    info = DatasetStore().info(name, fingerprint) if fingerprint else DatasetStore().info(name)
    return DataSummary(
        label=f"dataset '{info.name}'",
        has_rating=bool(info.has_rating) and _keeps_ratings(preprocess),
        has_validation=_split_has_validation(split),
        n_items=int(info.n_items),
    )


def summarize_ref(ref: Mapping[str, Any]) -> DataSummary:
    """Facts about a data reference (see :mod:`recsys_core.runs.jobs`). Files are not read, so whether
    they have ratings stays unknown for the ``file`` and ``files`` kinds."""
    kind = ref.get("kind")
    if kind == "dataset":
        return summarize_dataset(
            str(ref.get("name", "")),
            split=ref.get("split"),
            preprocess=ref.get("preprocess"),
            fingerprint=ref.get("fingerprint"),
        )
    if kind == "file":
        return DataSummary(label=f"file '{ref.get('data')}'", has_validation=_split_has_validation(ref.get("split")))
    if kind == "files":
        return DataSummary(label=f"file '{ref.get('train')}'", has_validation=bool(ref.get("val")))
    return DataSummary(label="the data")


def summarize_prepared(data: Any, label: str = "the data") -> DataSummary:
    """Facts about already prepared data (a :class:`~recsys_core.experiment.PreparedData`)."""
    return DataSummary(
        label=label,
        has_rating=data.train.rating is not None,
        has_validation=data.val is not None and bool(data.val.n_interactions),
        n_items=int(data.train.n_items),
    )


def learns_from_ratings(model: str) -> bool:
    """Whether the model needs explicit ratings (it trains on them, or is evaluated by RMSE/MAE)."""
    cls = get_model_class(model)
    return bool(cls.needs_ratings) or cls.task == "rating"


def ranking_models() -> list[str]:
    """Models that train on implicit feedback (no ratings needed), sorted by name."""
    return sorted(n for n in model_names() if not learns_from_ratings(n))


def validation_metrics(model: str, ks: Sequence[int]) -> list[str]:
    """The metric names the per-epoch validation reports for ``model`` at cutoffs ``ks``: what early stopping
    can monitor. Rating models: ``rmse``, ``mae``; ranking models: ``ndcg@k`` and ``recall@k`` per K."""
    if get_model_class(model).task == "rating":
        return list(RATING_VALIDATION)
    cutoffs = sorted({int(k) for k in ks}) or [10]
    return [f"{m}@{k}" for m in RANKING_VALIDATION for k in cutoffs]


def check_model(model: str, params: Mapping[str, Any], data: DataSummary) -> None:
    """Raise :class:`ConfigError` when ``model`` with ``params`` cannot train on ``data``."""
    cls = get_model_class(model)
    values = validate_params(cls.schema, dict(params), model=cls.name)
    if data.has_rating is not False:
        return
    if learns_from_ratings(model):
        raise ConfigError(
            f"{model} learns from explicit ratings, but {data.label} has none.",
            field="model",
            hint=f"Choose a ranking model ({', '.join(ranking_models())}) or load data with ratings.",
        )
    if values.get("loss") == "mse":
        raise ConfigError(
            f"{model} with loss=mse learns from explicit ratings, but {data.label} has none.",
            field="loss",
            hint="Set loss to auto or bce for implicit feedback, or load data with ratings.",
        )


def check_spec(spec: Any, data: DataSummary) -> None:
    """Raise :class:`ConfigError` when the experiment ``spec`` (an ``ExperimentSpec``) would fail on ``data``:
    a model that needs ratings on data without any, no evaluation cutoffs, a cutoff K above the number of
    items (a top-K list is at most every item), or early stopping without a validation part or on a metric
    that validation does not report."""
    check_model(spec.model, spec.params, data)
    ks = list(spec.ks)
    if not ks or any(int(k) < 1 for k in ks):
        raise ConfigError(f"Evaluation cutoffs must be whole numbers >= 1; got {ks}.", field="ks")
    too_big = sorted({int(k) for k in ks if data.n_items is not None and int(k) > data.n_items})
    if too_big:
        named = " and ".join(f"K={k}" for k in too_big)
        raise ConfigError(
            f"{named} {'is' if len(too_big) == 1 else 'are'} more than the {data.n_items} items in {data.label}.",
            field="ks",
            hint=f"Pick K ≤ {data.n_items}.",
        )
    monitor = spec.early_stopping
    if not monitor:
        return
    if data.has_validation is False:
        raise ConfigError(
            f"Early stopping needs a validation part, but the split of {data.label} has none.",
            field="early_stopping",
            hint="Set a validation share in the split, or turn early stopping off.",
        )
    reported = validation_metrics(spec.model, ks)
    if monitor not in reported:
        raise ConfigError(
            f"Early stopping monitors '{monitor}', which validation does not report for {spec.model}.",
            field="early_stopping",
            hint=f"Monitor one of: {', '.join(reported)}.",
        )


def spec_problem(spec: Any, data: DataSummary) -> ConfigError | None:
    """The :class:`ConfigError` :func:`check_spec` would raise, or None when the spec is fine."""
    try:
        check_spec(spec, data)
    except ConfigError as err:
        return err
    return None

"""The epoch loop every caller uses (CLI, worker processes, tests): one place for validation, early
stopping, checkpointing the best epoch, progress callbacks and cooperative cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import torch

from recsys_core.device import cpu_threads, tune_allocator
from recsys_core.errors import ConfigError
from recsys_core.models.base import Recommender


@dataclass
class EpochRecord:
    """What happened in one epoch: losses from training, metrics on the validation part, timings (seconds)."""

    epoch: int
    losses: dict[str, float]
    val: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0  # training time of this epoch (validation excluded)
    elapsed: float = 0.0  # wall time since fit started (validation included)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EarlyStopping:
    """Stop when ``metric`` (a key of the validation dict, e.g. ``"ndcg@10"``) has not improved by more
    than ``min_delta`` for ``patience`` epochs; ``mode`` says whether higher (``max``) or lower is better."""

    metric: str = "ndcg@10"
    patience: int = 3
    mode: Literal["max", "min"] = "max"
    min_delta: float = 0.0

    def __post_init__(self) -> None:
        if self.patience < 1:
            raise ConfigError(f"patience must be >= 1; got {self.patience}.", field="patience")
        if self.mode not in ("max", "min"):
            raise ConfigError(f"mode must be max or min; got {self.mode!r}.", field="mode")

    def improved(self, value: float, best: float | None) -> bool:
        if best is None:
            return True
        return value > best + self.min_delta if self.mode == "max" else value < best - self.min_delta


@dataclass
class FitResult:
    history: list[EpochRecord]
    best_epoch: int | None
    stopped_early: bool
    cancelled: bool
    fit_seconds: float  # training only: no data loading, no validation


class EpochCallback(Protocol):
    def __call__(self, record: EpochRecord, model: Recommender) -> None: ...


def _never() -> bool:
    return False


def fit(
    model: Recommender,
    train: Any,
    *,
    epochs: int | None = None,
    validate: Callable[[Recommender], dict[str, float]] | None = None,
    early_stopping: EarlyStopping | None = None,
    restore_best: bool = True,
    callbacks: Sequence[EpochCallback] = (),
    should_stop: Callable[[], bool] = _never,
) -> FitResult:
    """Train ``model`` on ``train`` (an ``Interactions``) epoch by epoch.

    Args:
        epochs: override the model's own ``n_epochs`` (closed-form models always run one step).
        validate: called after each epoch; returns validation metrics (e.g. from
            ``recsys_core.evaluation.protocol.validator``). Its time is not counted in ``fit_seconds``.
        early_stopping: needs ``validate``; the monitored metric must be one of its keys.
        restore_best: with validation, restore the weights of the best epoch at the end.
        callbacks: called with each :class:`EpochRecord` (progress reporting, logging to the run store).
        should_stop: polled between epochs and by the model between batches; True cancels the fit, keeping
            what was trained so far.
    """
    if early_stopping is not None and validate is None:
        raise ConfigError(
            "early stopping needs a validation part.", field="early_stopping", hint="Add a validation split."
        )
    tune_allocator()  # keep freed step temporaries on the heap (glibc); once per process
    n_epochs = model.n_epochs if epochs is None else int(epochs)
    start = time.perf_counter()
    train_seconds = 0.0
    t = time.perf_counter()
    model.prepare(train)
    train_seconds += time.perf_counter() - t

    history: list[EpochRecord] = []
    best_value: float | None = None
    best_epoch: int | None = None
    best_state: dict[str, torch.Tensor] | None = None
    stale = 0
    stopped_early = cancelled = False
    for epoch in range(1, max(n_epochs, 1) + 1):
        if should_stop():
            cancelled = True
            break
        t = time.perf_counter()
        with cpu_threads(model.train_cpu_threads, model.device):
            losses = {k: float(v) for k, v in model.train_epoch(epoch, should_stop).items()}
        seconds = time.perf_counter() - t
        train_seconds += seconds
        if should_stop():
            cancelled = True
        val = {k: float(v) for k, v in validate(model).items()} if validate is not None and not cancelled else {}
        record = EpochRecord(epoch, losses, val, seconds, time.perf_counter() - start)
        history.append(record)
        for callback in callbacks:
            callback(record, model)
        if cancelled:
            break
        if val:
            monitor = early_stopping or EarlyStopping(metric=next(iter(val)))
            if monitor.metric not in val:
                raise ConfigError(
                    f"early stopping monitors '{monitor.metric}', which validation does not report.",
                    field="early_stopping",
                    hint=f"Reported: {', '.join(val)}.",
                )
            if monitor.improved(val[monitor.metric], best_value):
                best_value, best_epoch, stale = val[monitor.metric], epoch, 0
                if restore_best and epoch < n_epochs:
                    best_state = {k: v.detach().clone() for k, v in model.state_tensors().items()}
            else:
                stale += 1
                if early_stopping is not None and stale >= early_stopping.patience:
                    stopped_early = True
                    break
    if restore_best and best_state is not None and best_epoch is not None and best_epoch != history[-1].epoch:
        model.load_state_tensors(best_state)
    return FitResult(history, best_epoch, stopped_early, cancelled, train_seconds)

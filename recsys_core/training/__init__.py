"""Training: the caller-owned epoch loop with validation, early stopping, best-epoch restore and cancel."""

from recsys_core.training.loop import EarlyStopping, EpochRecord, FitResult, fit

__all__ = ["EarlyStopping", "EpochRecord", "FitResult", "fit"]

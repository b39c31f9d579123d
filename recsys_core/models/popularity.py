"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from recsys_core.errors import ConfigError
from recsys_core.models.base import Contribution, Recommender, ShouldStop, _never
from recsys_core.models.neighbors import history_items
from recsys_core.models.registry import register


@register
class MostPopular(Recommender):
    """Scores every item by its number of training interactions, the same for every user.

    Ties are broken by the lower item index (as :func:`recsys_core.ranking.top_k` does), so the list is
    fully determined by the data. The reference point every personalised model must beat.

    Learned state: ``counts_`` float32 ``(n_items,)``, interactions per item (repeated interactions of a
    user with an item each count).
    """

    name = "popularity"
    description = "Most popular items: the same list for everyone, by number of training interactions."
    schema = ()
    task = "ranking"
    needs_ratings = False

    counts_: torch.Tensor | None = None

    def _prepare(self, train: Any) -> None:
        self._item_counts = np.asarray(train.item_counts(), dtype=np.float32)
        self.counts_ = None

    def train_epoch(self, epoch: int, should_stop: ShouldStop = _never) -> dict[str, float]:
        """Count interactions per item (epoch 1; later epochs change nothing). No loss: returns ``{}``."""
        if self.counts_ is None:
            self.counts_ = torch.from_numpy(self._item_counts).to(self.device)
        return {}

    def _counts(self) -> torch.Tensor:
        if self.counts_ is None:
            raise ConfigError(f"{self.name} is not trained yet.", field="model", hint="Call prepare/fit first.")
        return self.counts_

    def score(self, users: np.ndarray) -> torch.Tensor:
        """The popularity row repeated for each user: float32 ``(len(users), n_items)`` (a fresh tensor)."""
        counts = self._counts()
        return counts.unsqueeze(0).repeat(len(np.asarray(users)), 1)

    def fold_in(self, items: np.ndarray, ratings: np.ndarray | None = None) -> np.ndarray:
        """The same popularity scores whatever the history (validated, then ignored)."""
        history_items(items, ratings, self.n_items_)
        return self._counts().cpu().numpy().copy()

    def explain(self, user: int, item: int, top: int = 5) -> list[Contribution]:
        """Always ``[]``: a popularity score does not depend on the user's history, so no history item
        contributed to it."""
        return []

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"counts": self._counts()}

    def load_state_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        self.counts_ = tensors["counts"].to(self.device, torch.float32)

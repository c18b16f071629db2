"""Trainer hooks: code that watches (or stops) a fit without being part of it, as mmengine hooks or Lightning
callbacks do. The cell's trackers (:mod:`hipbench.training.tracking`), the collapse check
(:mod:`hipbench.training.collapse`) and tuning's pruning (:mod:`hipbench.runner.tuning`) are hooks.

In one fit of ``E`` epochs a hook sees, in this order::

    on_fit_start
    E x (on_epoch_start, on_validation, [on_checkpoint], on_epoch_end)
    on_fit_end

``epoch`` is the 1-based number the history records carry. Several hooks are called in the order given to the
trainer. An exception raised by a hook ends the fit and propagates (tuning's pruning stops a trial this way);
``on_fit_end`` is then not called, nor when the fit fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:  # annotations only: the trackers import this module where torch is not needed yet
    import torch
    from torch import nn


@dataclass
class TrainResult:
    """What a fit returns: the best weights (a real copy), when they were best, and the history."""

    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_val_nme: float
    history: list[dict[str, float]]
    train_seconds: float
    data_seconds: float = 0.0  # moving crops to the device and augmenting them, within train_seconds


class TrainerHook:
    """Base class of trainer hooks: every method does nothing; a hook overrides those it needs.

    Examples:
        >>> class Epochs(TrainerHook):
        ...     def __init__(self) -> None:
        ...         self.seen: list[int] = []
        ...     def on_epoch_end(self, epoch: int, record: Mapping[str, float]) -> None:
        ...         self.seen.append(epoch)
        >>> hook = Epochs(); hook.on_epoch_start(1); hook.on_epoch_end(1, {"epoch": 1}); hook.seen
        [1]
    """

    def on_fit_start(self, model: nn.Module) -> None:
        """Before the first epoch, with the model about to be trained (on the trainer's device)."""

    def on_epoch_start(self, epoch: int) -> None:
        """Before the epoch's first training step."""

    def on_validation(self, epoch: int, record: Mapping[str, float]) -> None:
        """After the epoch's validation, before the best weights are chosen: ``record`` is the epoch's history
        record (``epoch``, ``train_loss``, ``val_nme``, ``lr``, ``seconds``, for map outputs ``val_peak``)."""

    def on_checkpoint(self, epoch: int, state: Mapping[str, torch.Tensor]) -> None:
        """The epoch's weights were kept as the fit's best (``state``: the CPU copy; read, do not change)."""

    def on_epoch_end(self, epoch: int, record: Mapping[str, float]) -> None:
        """After the epoch's validation and checkpoint, with the epoch's history record."""

    def on_fit_end(self, result: TrainResult) -> None:
        """After the last epoch, with the fit's result (its ``train_seconds`` do not include this call)."""

"""The collapse check: a trained model that learned nothing is named in its ``train.log`` and on its row.

Two signs, both read from the per-epoch validation records after a warm-up share of the epochs:

- **empty maps**: for heads whose outputs are maps (heatmaps, masks; ``val_peak`` in the records), the
  mean height at the decoded points never rose above ``min_peak`` of a target's peak. The arg-max of an
  empty map is noise, so the row's landmarks are not predictions.
- **no better than the mean shape**: the best validation NME after warm-up is not below the NME of the
  mean-shape baseline fitted on the same training part and scored on the same validation images. A row
  that cannot beat the average landmark layout has not learned the image.

Either sign is a defect of the configuration (its default, its budget), not a finding about the method.
:class:`CollapseHook` runs the check when a fit ends.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from hipbench.training.hooks import TrainerHook, TrainResult


@dataclass(frozen=True)
class CollapseCheck:
    """Thresholds of the check.

    Examples:
        >>> CollapseCheck().warmup_share, CollapseCheck().min_peak
        (0.25, 0.1)
    """

    warmup_share: float = 0.25  # epochs before this share of the run are not judged
    min_peak: float = 0.1  # of a target's peak (1.0)


def collapse_warnings(history: Sequence[dict[str, Any]], baseline_val_nme: float | None,
                      check: CollapseCheck = CollapseCheck()) -> list[str]:
    """The collapse warnings of one training run (empty list when it learned).

    ``history`` holds the trainer's per-epoch records (``epoch``, ``val_nme`` and, for map outputs,
    ``val_peak``); ``baseline_val_nme`` is the mean shape's validation NME (None: not compared).

    Examples:
        >>> flat = [{"epoch": e, "val_nme": 100.0, "val_peak": 0.01} for e in range(1, 9)]
        >>> [w.split(":")[0] for w in collapse_warnings(flat, 25.0)]
        ['collapsed to empty maps', 'no better than the mean shape']
        >>> learned = [{"epoch": e, "val_nme": 30.0 - 2 * e, "val_peak": 0.1 * e} for e in range(1, 9)]
        >>> collapse_warnings(learned, 25.0)
        []
    """
    if not history:
        return []
    start = min(len(history) - 1, int(math.floor(check.warmup_share * len(history))))
    judged = history[start:]
    warnings = []
    peaks = [float(h["val_peak"]) for h in judged if h.get("val_peak") is not None]
    if peaks and max(peaks) < check.min_peak:
        warnings.append(f"collapsed to empty maps: the predicted maps' peak stayed below {check.min_peak:g} "
                        f"(max {max(peaks):.3f}) from epoch {judged[0]['epoch']} on")
    nmes = [float(h["val_nme"]) for h in judged if math.isfinite(float(h.get("val_nme", math.nan)))]
    if baseline_val_nme is not None and math.isfinite(baseline_val_nme) and nmes \
            and min(nmes) >= baseline_val_nme:
        warnings.append(f"no better than the mean shape: best validation NME {min(nmes):.2f}% from epoch "
                        f"{judged[0]['epoch']} on, mean shape {baseline_val_nme:.2f}%")
    return warnings


class CollapseHook(TrainerHook):
    """A trainer hook: when the fit ends, the check of its history against ``baseline_val_nme()`` (called
    then; None: not compared). Each warning goes to ``log`` as ``WARNING <text>`` and stays in ``warnings``.

    Examples:
        >>> hook = CollapseHook(lambda: 25.0, logging.getLogger("doctest"))
        >>> flat = [{"epoch": e, "val_nme": 100.0} for e in range(1, 9)]
        >>> hook.on_fit_end(TrainResult({}, 1, 100.0, flat, 0.0)); [w.split(":")[0] for w in hook.warnings]
        ['no better than the mean shape']
    """

    def __init__(self, baseline_val_nme: Callable[[], float | None], log: logging.Logger,
                 check: CollapseCheck = CollapseCheck()) -> None:
        self.baseline_val_nme = baseline_val_nme
        self.log = log
        self.check = check
        self.warnings: list[str] = []

    def on_fit_end(self, result: TrainResult) -> None:
        self.warnings = collapse_warnings(result.history, self.baseline_val_nme(), self.check)
        for warning in self.warnings:
            self.log.warning("WARNING %s", warning)

"""Which trained cell predicts on new images: the best leaderboard row of a run that can run on them (a framing
that needs a detector only with a restorable one), then its fold with the best validation NME; or the model
folder named."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from hipbench.data.images import IMAGE_SUFFIXES

DETECTOR_HINT = ("add a whole_image framing to the benchmark, e.g. `framings: [{type: bilateral_crops}, "
                 "{type: whole_image}]`, and run it again, or pass --detector-weights FILE (a trained hip detector's "
                 "weights, e.g. a YOLO .pt; --detector-type names its detector when the file suffix does not)")


def find_images(inputs: Sequence[str | Path]) -> list[Path]:
    """Image files named by ``inputs`` (files, or folders searched one level deep), sorted per folder.

    Examples:
        >>> import tempfile
        >>> d = Path(tempfile.mkdtemp()); _ = (d / "b.png").write_bytes(b""); _ = (d / "a.dcm").write_bytes(b"")
        >>> _ = (d / "notes.txt").write_text("x")
        >>> [p.name for p in find_images([d])]
        ['a.dcm', 'b.png']
    """
    found: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found += sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        elif item.is_file():
            found.append(item)
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    return found


def needs_detector(framing: dict[str, Any]) -> bool:
    """Whether a stored framing cuts its views from detector boxes.

    Examples:
        >>> needs_detector({"type": "whole_image", "uses_detector": False}), needs_detector({"type": "bilateral_crops"})
        (False, True)
    """
    if "uses_detector" in framing:
        return bool(framing["uses_detector"])
    from hipbench.registry import FRAMINGS

    return bool(FRAMINGS.get(framing["type"]).uses_detector)


def detector_checkpoint(result: dict[str, Any], run_dir: Path) -> tuple[Path | None, str]:
    """The cell's restorable detector checkpoint (the detector recorded in its ``result.json``), or None and
    why there is none. A detector that reads its boxes from the labels (``needs_labels``) has none.

    Examples:
        >>> detector_checkpoint({"detector": {"type": "gt"}}, Path("run"))[1]
        "this run used the 'gt' detector, which reads its boxes from the labels and cannot find hips on a new image"
    """
    from hipbench.pipeline.detector import restorable
    from hipbench.registry import DETECTORS, PluginError

    kind = (result.get("detector") or {}).get("type")
    if kind in (None, "none"):
        return None, "this cell recorded no detector"
    try:
        detector = DETECTORS.get(kind)
    except PluginError as exc:
        return None, f"this run's detector cannot be loaded: {exc}"
    if getattr(detector, "needs_labels", False):
        return None, (f"this run used the {kind!r} detector, which reads its boxes from the labels and cannot "
                      "find hips on a new image")
    if not restorable(detector):
        return None, f"this run's {kind!r} detector cannot be restored from a checkpoint"
    stored = (result.get("detector_stats") or {}).get("checkpoint")
    if not stored:
        return None, f"this run's {kind!r} detector stored no checkpoint"
    path = Path(stored) if Path(stored).is_absolute() else run_dir / stored  # stored relative to the run
    if not path.exists():
        return None, f"this run's {kind!r} detector checkpoint {path} is missing"
    return path, ""


@dataclass(frozen=True)
class CellChoice:
    """The cell to predict with and why it was chosen (``hipbench predict`` prints ``reason``)."""

    cell: Path
    reason: str
    folds: tuple[Path, ...] = ()  # every usable fold model of the row, best validation NME first


def choose_cell(model_path: str | Path, combination: str | None = None, have_detector_weights: bool = False,
                ) -> CellChoice:
    """The cell to predict with: ``model_path`` itself when it is a trained cell, else a trained cell of the
    run directory ``model_path``.

    The row is the best ranked leaderboard row that can run on new images (``combination``: the row whose
    key is, or uniquely contains, that text); baseline rows and the oracle-box rows are never
    chosen. A row whose framing needs a detector can run only with a restorable detector checkpoint (a
    learned detector; one that ``needs_labels`` cannot) or with ``have_detector_weights``; otherwise the next row is
    tried, e.g. a ``whole_image`` one. Among the row's usable folds, the one with the best validation NME.
    Raises ``ValueError`` saying why when no row can run.
    """
    path = Path(model_path)
    if (path / "model.json").exists() or ((path / "model.pt").exists() and (path / "config.json").exists()):
        if combination is not None:
            raise ValueError("--combination picks a row of a run directory, and --model names one model")
        return CellChoice(path, "the model folder named by --model", (path,))
    if not (path / "cells").is_dir():
        raise FileNotFoundError(f"{path}: neither a run directory (no cells/) nor a model folder (no model.json or "
                                "model.pt)")
    rows = _trained_rows(path)
    if not rows:
        raise FileNotFoundError(f"{path}: the run has no finished cell with a trained model")
    if combination is not None:
        rows = [_named_row(rows, combination, path)]
    skipped: list[tuple[dict[str, Any], str]] = []
    for row, folds in rows:
        usable, why = _usable_folds(folds, path, have_detector_weights)
        if usable:
            from hipbench.leaderboard.build import finite_or_inf
            from hipbench.runner.store import RunStore

            ordered = sorted(usable, key=lambda r: finite_or_inf(r.get("best_val_nme")))
            cells = tuple(RunStore(path).cell_dir(r["key"], r["fold"]) for r in ordered)
            return CellChoice(cells[0], _choice_reason(row, skipped, combination is not None), cells)
        skipped.append((row, why))
    raise ValueError(_no_row_message(path, skipped, combination is not None))


def _trained_rows(run_dir: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(leaderboard row, its finished folds with a model), best ranked first; baseline and oracle rows left out."""
    from hipbench.leaderboard.build import ranked_rows
    from hipbench.runner.store import RunStore

    store = RunStore(run_dir)
    trained = [r for r in store.results()
               if r["status"] == "ok" and (store.cell_dir(r["key"], r["fold"]) / "model.pt").exists()]
    rows = ranked_rows(run_dir)
    out = []
    for row in rows:
        if row["status"] != "ok" or row.get("baseline") or row["key"].endswith("@oracle"):
            continue
        folds = [r for r in trained if r["key"] == row["key"]]
        if folds:
            out.append((row, folds))
    return out


def _named_row(rows: list[tuple[dict[str, Any], list[dict[str, Any]]]], name: str, run_dir: Path,
               ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    exact = [r for r in rows if r[0]["key"] == name]
    matches = exact or [r for r in rows if name in r[0]["key"]]
    if len(matches) == 1:
        return matches[0]
    keys = "\n  ".join(r[0]["key"] for r in (matches or rows))
    what = "matches several" if matches else "matches none of the"
    raise ValueError(f"{run_dir}: --combination {name!r} {what} trained rows:\n  {keys}")


def _usable_folds(folds: list[dict[str, Any]], run_dir: Path, have_detector_weights: bool,
                  ) -> tuple[list[dict[str, Any]], str]:
    """The folds that can predict on a new image, and why the others cannot."""
    from hipbench.runner.trained import stored_framing

    usable, reasons = [], []
    for result in folds:
        if have_detector_weights or not needs_detector(stored_framing(result, result["combination"])):
            usable.append(result)
            continue
        checkpoint, why = detector_checkpoint(result, run_dir)
        if checkpoint is not None:
            usable.append(result)
        else:
            reasons.append(why)
    return usable, reasons[0] if reasons else ""


def _choice_reason(row: dict[str, Any], skipped: list[tuple[dict[str, Any], str]], named: bool) -> str:
    chosen = f"{row['key']} ({row['framing']}, pooled test NME {row['nme']:.2f}%)"
    if named:
        return f"row {chosen}, as --combination asked"
    if not skipped:
        return f"best row: {chosen}"
    first, why = skipped[0]
    others = f" ({len(skipped) - 1} more such row(s) skipped)" if len(skipped) > 1 else ""
    return f"best row ({first['framing']}) needs a detector; {why}{others} — using the best row that can run: {chosen}"


def _no_row_message(run_dir: Path, skipped: list[tuple[dict[str, Any], str]], named: bool) -> str:
    framings = ", ".join(sorted({row["framing"] for row, _ in skipped}))
    which = f"row {skipped[0][0]['key']}" if named else "every trained row of this run"
    hint = ("pick a row that needs no detector (a whole_image row), or pass --detector-weights FILE (a trained hip "
            "detector's weights)") if named else DETECTOR_HINT
    return f"{run_dir}: {which} ({framings}) needs a hip detector to predict on new images, and {skipped[0][1]}; {hint}"

"""What ``hipbench predict`` and the web app write: one JSON and one overlay per image, ``summary.csv``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.inference.ensemble import EnsemblePredictor
from hipbench.inference.predictor import HipPredictor, Prediction


def unique_stems(paths: Sequence[Path]) -> dict[Path, str]:
    """Output name per input: its stem, plus its suffix where two inputs share a stem.

    Examples:
        >>> sorted(unique_stems([Path("a.jpg"), Path("a.dcm"), Path("b.png")]).values())
        ['a_dcm', 'a_jpg', 'b']
    """
    counts = Counter(p.stem for p in paths)
    return {p: p.stem if counts[p.stem] == 1 else f"{p.stem}_{p.suffix.lstrip('.').lower()}" for p in paths}


def write_image_outputs(pred: Prediction, pixels: np.ndarray, predictor: HipPredictor | EnsemblePredictor,
                        out_dir: Path, stem: str) -> dict[str, Any]:
    """Write ``<stem>.json`` and ``<stem>_overlay.png`` for one image; return its ``summary.csv`` row."""
    import cv2

    from hipbench.files import atomic_write
    from hipbench.pipeline.overlay import draw_overlay

    out_dir.mkdir(parents=True, exist_ok=True)
    data = pred.as_json(predictor.schema, predictor.describe())
    atomic_write(out_dir / f"{stem}.json", lambda p: p.write_text(json.dumps(data, indent=2)))
    overlay = draw_overlay(pixels, pred.keypoints, predictor.schema, pred.ai, pred.ihdi, pred.boxes, pred.box_source,
                           pred.spread, pred.ai_sd)
    ok, encoded = cv2.imencode(".png", overlay)
    if not ok:
        raise OSError(f"could not encode the overlay of {pred.image}")
    atomic_write(out_dir / f"{stem}_overlay.png", lambda p: p.write_bytes(encoded.tobytes()))
    ai, ihdi = data["acetabular_index_deg"] or {}, data["ihdi_grade"] or {}
    return {"image": str(pred.image), "ai_left_deg": ai.get("left"), "ai_right_deg": ai.get("right"),
            "ihdi_left": ihdi.get("left"), "ihdi_right": ihdi.get("right"),
            "box_left": pred.box_source["left"], "box_right": pred.box_source["right"],
            "keypoints_found": int(np.isfinite(pred.keypoints).all(axis=1).sum()),
            "warnings": " | ".join(pred.warnings)}


def write_summary(rows: Sequence[dict[str, Any]], failed: Sequence[tuple[Path, str]], out_dir: Path) -> Path:
    """``summary.csv``: one row per measured image, and one per unreadable file with its reason."""
    import pandas as pd

    from hipbench.files import atomic_write

    out_dir.mkdir(parents=True, exist_ok=True)
    everything = list(rows) + [{"image": str(path), "warnings": f"NOT MEASURED: {why}"} for path, why in failed]
    return atomic_write(out_dir / "summary.csv", lambda p: pd.DataFrame(everything).to_csv(p, index=False))

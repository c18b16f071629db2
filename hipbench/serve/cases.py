"""The case viewer: every test-fold prediction of a leaderboard row (its pooled out-of-fold predictions, as
the leaderboard scored them) with its error and its measures from the truth and from the prediction.

Images are not stored in a run, so each is found again from the dataset the row was trained on: its
recorded ``combination.dataset`` is built through the DATASETS registry exactly as the run built it (the
phantom re-renders the same pixels from its seed; a folder dataset reads its root again) and the case's
``image_id`` looked up. When that fails (a moved or missing folder) the case is shown on a blank canvas of
the image's size (from the dataset's labels, else from the points), saying why.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Any

import numpy as np

from hipbench.measures import GRADED
from hipbench.serve.measures import measure_table, measures_for, points_to_json, schema_json
from hipbench.serve.runs import RunCatalog

ROW_SUFFIXES = ("+tta", "@oracle")  # rows scored from the same cells as the plain row


class ImageUnavailable(Exception):
    """A case whose pixels cannot be found; the message says why."""


def case_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Mean radial error (px) per image over the landmarks present in both; NaN when none is.

    Examples:
        >>> pred = np.array([[[0, 0], [3, 4]], [[np.nan, 0], [1, 1]]])
        >>> case_errors(pred, np.zeros((2, 2, 2))).round(3).tolist()
        [2.5, 1.414]
    """
    distance = np.linalg.norm(np.asarray(pred, float) - np.asarray(gt, float), axis=-1)
    finite = np.isfinite(distance)
    counts = finite.sum(axis=-1)
    total = np.where(finite, distance, 0.0).sum(axis=-1)
    return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)


def _number(value: float) -> float | None:
    return round(float(value), 3) if math.isfinite(value) else None


class CaseViewer:
    """Cases of the rows of a :class:`RunCatalog`, and their images."""

    def __init__(self, catalog: RunCatalog) -> None:
        self.catalog = catalog
        self._datasets: dict[str, dict[str, Any] | str] = {}
        self._lock = threading.Lock()

    def _arrays(self, run_id: str, key: str) -> dict[str, Any]:
        arrays = self.catalog.row(run_id, key).get("pooled_arrays")
        if arrays is None:
            raise KeyError(f"row {key!r} has no stored test-fold predictions")
        return arrays

    def cases(self, run_id: str, key: str) -> dict[str, Any]:
        """Every case of the row, worst (largest mean radial error) first, with each measure per hip from
        the truth and from the prediction."""
        from hipbench.schema import get_schema

        arrays = self._arrays(run_id, key)
        schema = get_schema(arrays["schema"])
        measures = measures_for(schema)
        errors = case_errors(arrays["pred"], arrays["gt"])
        spacing = np.asarray(arrays["pixel_spacing"], dtype=float)
        values = {}
        for measure in measures:
            values[measure.name] = (measure.compute(arrays["gt"], schema).values,
                                    measure.compute(arrays["pred"], schema).values)
        cases = []
        for i, image_id in enumerate(arrays["image_id"].tolist()):
            case: dict[str, Any] = {
                "image_id": str(image_id), "fold": int(arrays["fold"][i]), "error_px": _number(errors[i]),
                "error_mm": _number(errors[i] * spacing[i]) if math.isfinite(spacing[i]) and spacing[i] > 0 else None,
                "truth": {n: [_number(v) for v in truth[i]] for n, (truth, _) in values.items()},
                "pred": {n: [_number(v) for v in pred[i]] for n, (_, pred) in values.items()}}
            if "ai" in values:
                difference = np.abs(values["ai"][1][i] - values["ai"][0][i])
                case["ai_error"] = _number(float(np.nanmax(difference))) if np.isfinite(difference).any() else None
            cases.append(case)
        cases.sort(key=lambda c: -c["error_px"] if c["error_px"] is not None else math.inf)
        graded = [m for m in measures if m.kind == GRADED]
        return {"run": run_id, "row": key, "schema": schema_json(schema),
                "measures": [{"name": m.name, "title": m.title, "kind": m.kind, "unit": m.unit,
                              "grades": list(m.grades)} for m in measures],
                "grade_measure": next((m.name for m in graded if m.name == "ihdi"), graded[0].name if graded else None),
                "cases": cases}

    def case(self, run_id: str, key: str, image_id: str) -> dict[str, Any]:
        """One case: truth and predicted points, both measure tables, and whether its image can be shown."""
        from hipbench.schema import get_schema

        arrays = self._arrays(run_id, key)
        index = self._index(arrays, image_id)
        schema = get_schema(arrays["schema"])
        gt, pred = arrays["gt"][index], arrays["pred"][index]
        sample, why = self._sample(run_id, key, image_id)
        if sample is not None:
            width, height = sample.image_size
            size_from = "dataset"
        else:
            both = np.concatenate([gt, pred])
            finite = both[np.isfinite(both).all(axis=1)]
            width, height = ((int(np.ceil(finite[:, 0].max() * 1.1)) + 1, int(np.ceil(finite[:, 1].max() * 1.1)) + 1)
                             if len(finite) else (256, 256))
            size_from = "points"
        available = sample is not None and (sample.image_path is not None or sample.loader is not None)
        note = "" if available else (f"image not found ({why}): points on a blank canvas of the image size "
                                     f"(from the {size_from})")
        return {"image_id": image_id, "fold": int(arrays["fold"][index]), "schema": schema_json(schema),
                "truth": points_to_json(gt), "pred": points_to_json(pred),
                "measures": {"truth": measure_table(gt, schema), "pred": measure_table(pred, schema)},
                "image": {"available": available, "width": width, "height": height, "note": note}}

    def image(self, run_id: str, key: str, image_id: str) -> np.ndarray:
        """The case's pixels (H, W) in [0, 1]; ImageUnavailable saying why they cannot be found."""
        self._index(self._arrays(run_id, key), image_id)
        sample, why = self._sample(run_id, key, image_id)
        if sample is None:
            raise ImageUnavailable(why)
        try:
            return np.asarray(sample.load_image(), dtype=np.float32)
        except Exception as exc:  # any loader: a missing or unreadable file
            raise ImageUnavailable(f"{type(exc).__name__}: {exc}") from None

    @staticmethod
    def _index(arrays: dict[str, Any], image_id: str) -> int:
        matches = np.flatnonzero(arrays["image_id"] == image_id)
        if len(matches) == 0:
            raise KeyError(f"no case {image_id!r} in this row")
        return int(matches[0])

    def _sample(self, run_id: str, key: str, image_id: str) -> tuple[Any, str]:
        """(the dataset sample of ``image_id``, "") or (None, why it cannot be found)."""
        from hipbench.runner.store import RunStore

        store = RunStore(self.catalog.get(run_id).path)
        cell_key = key
        for suffix in ROW_SUFFIXES:
            cell_key = cell_key.removesuffix(suffix)
        result = next((r for r in store.results() if r["key"] == cell_key), None)
        config = ((result or {}).get("combination") or {}).get("dataset")
        if not config:
            return None, "the run does not record its dataset"
        samples = self._dataset(config)
        if isinstance(samples, str):
            return None, samples
        sample = samples.get(image_id)
        return (sample, "") if sample is not None else (None, f"the dataset has no image {image_id!r} now")

    def _dataset(self, config: dict[str, Any]) -> dict[str, Any] | str:
        """The samples of the dataset built from ``config`` by image id, or why it cannot be built."""
        from hipbench.registry import DATASETS

        cache_key = json.dumps(config, sort_keys=True, default=str)
        with self._lock:
            if cache_key not in self._datasets:
                try:
                    dataset = DATASETS.build(dict(config))
                    self._datasets[cache_key] = {s.image_id: s for s in dataset}
                except Exception as exc:  # any dataset plugin: a moved root, a missing file
                    self._datasets[cache_key] = f"the dataset {config.get('type')!r} cannot be loaded: {exc}"
            return self._datasets[cache_key]

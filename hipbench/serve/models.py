"""The models the Measure and Review views predict with, and the prediction itself: the same functions as
``hipbench predict`` (:func:`~hipbench.inference.choose_cell`,
:class:`~hipbench.inference.HipPredictor`, :func:`~hipbench.inference.write_image_outputs`),
so the JSON a user downloads is the file ``hipbench predict`` writes for the same image and model."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipbench.serve.measures import measure_table, points_to_json, schema_json
from hipbench.serve.runs import RunCatalog

ROW_SEPARATOR = "::"
NO_UNCERTAINTY = "one fold model gives no uncertainty: tick the fold ensemble for one"


@dataclass(frozen=True)
class ModelChoice:
    """A model to predict with: a run's best usable row (``combination`` None), one named row, or a cell."""

    id: str
    label: str
    path: Path
    combination: str | None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label}


def _short(key: str) -> str:
    """A row key without its dataset prefix and hash, for a menu.

    Examples:
        >>> _short("synthetic_pelvis-num=16-size=96-__whole_image-input_size=64-__resnet18__heatmap__default-49d6336b")
        'whole_image-input_size=64 / resnet18 / heatmap / default'
    """
    parts = [p for p in key.split("__")[1:]]
    if parts:
        parts[-1] = parts[-1].rsplit("-", 1)[0]
    return " / ".join(p.strip("-") for p in parts) or key


class ModelCatalog:
    """Model choices of the served runs and cells; predictors built on first use and kept."""

    def __init__(self, catalog: RunCatalog, device: str = "auto") -> None:
        self.device = device
        self.choices: dict[str, ModelChoice] = {}
        for entry in catalog.entries.values():
            if entry.kind == "cell":
                self.choices[entry.id] = ModelChoice(entry.id, f"{entry.id}: model folder {entry.path.name}",
                                                     entry.path, None)
                continue
            keys = _trained_keys(entry.path)
            if keys:
                self.choices[entry.id] = ModelChoice(entry.id, f"{entry.id}: best row that runs on new images",
                                                     entry.path, None)
            for key in keys:
                model_id = f"{entry.id}{ROW_SEPARATOR}{key}"
                self.choices[model_id] = ModelChoice(model_id, f"{entry.id}: {_short(key)}", entry.path, key)
        self._predictors: dict[tuple[str, bool], tuple[Any, str, threading.Lock]] = {}
        self._lock = threading.Lock()

    def public(self) -> list[dict[str, Any]]:
        return [c.public() for c in self.choices.values()]

    def get(self, model_id: Any) -> ModelChoice:
        if not isinstance(model_id, str) or model_id not in self.choices:
            raise KeyError(f"no model {model_id!r}")
        return self.choices[model_id]

    def predictor(self, model_id: str, ensemble: bool = False) -> tuple[Any, str, threading.Lock]:
        """(predictor, why this model, its lock) of ``model_id``: one fold model (the row's best by validation
        NME), or with ``ensemble`` all the row's fold models averaged (which gives an uncertainty), built as
        ``hipbench predict [--ensemble folds]`` builds them. ValueError/FileNotFoundError say why a model
        cannot predict."""
        from hipbench.inference import EnsemblePredictor, HipPredictor, choose_cell

        choice = self.get(model_id)
        with self._lock:
            if (model_id, ensemble) not in self._predictors:
                cell = choose_cell(choice.path, choice.combination)
                folds = tuple(getattr(cell, "folds", ()) or (cell.cell,))
                if ensemble and len(folds) < 2:
                    raise ValueError("this model has one fold model only: an ensemble (and its uncertainty) needs "
                                     "a run row trained on several folds")
                predictor = (EnsemblePredictor(folds, device=self.device) if ensemble
                             else HipPredictor(cell.cell, device=self.device))
                reason = cell.reason + (f"; ensemble of {len(folds)} fold models" if ensemble else "")
                self._predictors[(model_id, ensemble)] = (predictor, reason, threading.Lock())
            return self._predictors[(model_id, ensemble)]

    def predict(self, model_id: str, image: Path, ensemble: bool = False) -> tuple[Any, Any, Any, str]:
        """(prediction, decoded pixels, predictor, why this model) for one image file."""
        predictor, reason, lock = self.predictor(model_id, ensemble)
        with lock:  # one model, one image at a time: torch modules are not re-entrant across threads
            prediction, pixels = predictor.predict_image(image)
        return prediction, pixels, predictor, reason

    def measure(self, model_id: str, image: Path, out_root: Path, ensemble: bool = False) -> dict[str, Any]:
        """Predict and measure ``image``; write ``hipbench predict``'s JSON and overlay under a new folder of
        ``out_root``; return what the Measure view shows (the id of that folder among it). The uncertainty is
        the JSON's own (present when the model gives one: a fold ensemble)."""
        from hipbench.inference import write_image_outputs

        prediction, pixels, predictor, reason = self.predict(model_id, image, ensemble)
        measure_id = secrets.token_hex(8)
        out_dir = out_root / measure_id
        write_image_outputs(prediction, pixels, predictor, out_dir, "prediction")
        written = json.loads((out_dir / "prediction.json").read_text())
        return {"id": measure_id, "model": model_id, "ensemble": ensemble, "reason": reason, "prediction": written,
                "schema": schema_json(predictor.schema), "keypoints": points_to_json(prediction.keypoints),
                "measures": measure_table(prediction.keypoints, predictor.schema),
                "uncertainty": written.get("uncertainty"),
                "uncertainty_note": "" if written.get("uncertainty") else NO_UNCERTAINTY}


def _trained_keys(run_dir: Path) -> list[str]:
    """Rows of ``run_dir`` with at least one finished fold that kept its model (``model.pt``)."""
    from hipbench.runner.store import RunStore

    store = RunStore(run_dir)
    keys = []
    for result in store.results():
        if (result.get("status") == "ok" and result["key"] not in keys
                and (store.cell_dir(result["key"], result["fold"]) / "model.pt").is_file()):
            keys.append(result["key"])
    return keys

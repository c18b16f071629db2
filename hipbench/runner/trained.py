"""A trained cell rebuilt from its folder alone: configuration, framing, landmark schema and keypoint model
(what ``hipbench predict`` and the robustness suite start from)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.pipeline.framing import Framing
from hipbench.schema import LandmarkSchema


@dataclass
class TrainedCell:
    """``config`` and ``result`` as stored, the ``framing`` it was trained with, its ``schema``, ``train``
    settings and the ``model`` (eval mode, on CPU until used)."""

    cell_dir: Path
    config: dict[str, Any]
    result: dict[str, Any]
    framing: Framing
    schema: LandmarkSchema
    train: Any
    model: Any

    def predict_views(self, views: Any, device: Any) -> np.ndarray:
        """View-pixel keypoints of ``views`` (a ``CropSet``)."""
        from hipbench.training.trainer import Trainer

        return Trainer(self.train, device, amp=False, progress=False).predict(self.model, views)


def stored_framing(result: dict[str, Any], combination: dict[str, Any]) -> dict[str, Any]:
    """The framing a cell was trained with, as stored: the resolved one in ``result.json``, else the one its
    combination named, else bilateral crops (cells from before framings existed).

    Example:
        >>> stored_framing({}, {"framing": {"type": "whole_image"}}), stored_framing({}, {})
        ({'type': 'whole_image'}, {'type': 'bilateral_crops'})
    """
    return dict(result.get("framing") or combination.get("framing") or {"type": "bilateral_crops"})


def train_config(train: dict[str, Any]) -> Any:
    """The stored ``train`` settings of a benchmark as a ``TrainConfig``."""
    from hipbench.training.augment import AugmentConfig
    from hipbench.training.trainer import TrainConfig

    values = dict(train)
    values["augmentation"] = AugmentConfig(**values.get("augmentation") or {})
    return TrainConfig(**values)


def view_keypoints(framing: Framing, schema: LandmarkSchema) -> int:
    """How many keypoints the framing's model predicts per view (one hip's for crops, K for the whole image),
    read off the views of a blank image so that any framing plugin answers."""
    from hipbench.data.sample import Sample
    from hipbench.schema import SIDES

    k = schema.num_keypoints
    blank = Sample("blank", "blank", np.full((k, 2), np.nan), np.zeros(k, bool), {}, (64, 64), schema,
                   loader=lambda: np.zeros((64, 64), np.float32))
    boxes = [{side: np.array([8.0, 8.0, 40.0, 40.0]) for side in SIDES}] if framing.uses_detector else None
    return int(framing.views([blank], boxes).keypoints.shape[1])


def load_trained_cell(cell_dir: str | Path) -> TrainedCell:
    """Rebuild a finished cell (``config.json``, ``result.json``, ``predictions.npz``, ``model.pt``)."""
    import torch

    from hipbench.models.keypoint_model import build_model
    from hipbench.pipeline.framing import build_framing
    from hipbench.runner.store import read_json
    from hipbench.schema import get_schema

    cell_dir = Path(cell_dir)
    if not (cell_dir / "model.pt").exists():
        raise FileNotFoundError(f"{cell_dir}: no model.pt (a baseline, an exported leaderboard, or unfinished)")
    config, result = read_json(cell_dir / "config.json"), read_json(cell_dir / "result.json")
    with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
        schema = get_schema(str(stored["schema"]))
    train = train_config(config["benchmark"]["train"])
    spec = stored_framing(result, config["combination"])
    framing = build_framing({k: v for k, v in spec.items() if k != "uses_detector"}, train)
    combo = config["combination"]
    model = build_model(combo["backbone"], combo["head"], num_keypoints=view_keypoints(framing, schema),
                        input_size=framing.input_size, neck=combo.get("neck"))
    model.load_state_dict(torch.load(cell_dir / "model.pt", map_location="cpu", weights_only=True))
    return TrainedCell(cell_dir, config, result, framing, schema, train, model.eval())

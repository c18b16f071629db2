"""A trained model that describes itself: ``model.json`` beside ``model.pt`` (the model card), and the cell
rebuilt from that folder alone: framing, landmark schema, input geometry and normalisation, keypoint model,
detector checkpoint (relative to the folder), training-data fingerprint, version and test metrics. What
``hipbench predict``, the robustness suite and ``hipbench export`` start from. A folder that ``hipbench
export`` wrote reads the same way, its model running the exported graph."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from hipbench.files import read_json
from hipbench.pipeline.framing import Framing
from hipbench.schema import LandmarkSchema

if TYPE_CHECKING:
    import torch

CARD = "model.json"
CARD_FORMAT = "hipbench.model/1"
CARD_METRICS = ("nme", "mre_px", "mre_mm", "ai_mae", "ihdi_accuracy", "normaliser")


@dataclass
class TrainedCell:
    """The model ``card`` (``model.json``), ``config`` and ``result`` as stored where the run kept them
    (empty for a model folder on its own), the ``framing`` it was trained with, its ``schema``, ``train``
    settings and the ``model`` (eval mode, on CPU until used)."""

    cell_dir: Path
    card: dict[str, Any]
    config: dict[str, Any]
    result: dict[str, Any]
    framing: Framing
    schema: LandmarkSchema
    train: Any
    model: Any

    def predict_views(self, views: Any, device: Any) -> np.ndarray:
        """View-pixel keypoints of ``views`` (a ``ViewSet``)."""
        from hipbench.training.trainer import Trainer

        return Trainer(self.train, device, amp=False, progress=False).predict(self.model, views)


def stored_framing(result: dict[str, Any], combination: dict[str, Any]) -> dict[str, Any]:
    """The framing a cell was trained with, as stored: the resolved one in ``result.json``, else the one its
    combination named, else bilateral crops (cells from before framings existed).

    Examples:
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


def model_card(config: dict[str, Any], result: dict[str, Any], schema: LandmarkSchema, cell_dir: Path,
               synthetic: bool = False) -> dict[str, Any]:
    """The card of a finished cell: everything needed to use the model without its run."""
    import hashlib

    from hipbench import __version__
    from hipbench.schema import schema_to_spec
    from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

    trained_as = result.get("trained_as") or {}  # a tuned cell: the values its tuning chose
    combination = trained_as.get("combination", config["combination"])
    framing = stored_framing(result, combination)
    detector = None
    if framing.get("uses_detector", True) and result.get("detector", {}).get("type") not in (None, "none"):
        detector = dict(result["detector"])
        stored = (result.get("detector_stats") or {}).get("checkpoint")
        if stored and not Path(stored).is_absolute():  # stored relative to the run; the card's is to the folder
            stored = os.path.relpath(cell_dir.parent.parent.parent / stored, cell_dir)
        detector["checkpoint"] = stored
    train_ids = sorted(config.get("split", {}).get("train", []))
    metrics = result.get("metrics") or {}
    return {
        "format": CARD_FORMAT, "hipbench": __version__, "key": result.get("key"), "fold": result.get("fold"),
        "combination": combination, "schema": schema_to_spec(schema), "framing": framing,
        "input": {"size": framing.get("input_size"), "channels": 3, "grey_to_rgb": True, "scale": 1 / 255,
                  "mean": list(IMAGENET_MEAN), "std": list(IMAGENET_STD)},
        "train": trained_as.get("train", config["benchmark"]["train"]),
        "on_miss": config["benchmark"].get("on_miss", "missing"),
        "detector": detector,
        "data": {"dataset": config["combination"]["dataset"], "train_images": len(train_ids), "synthetic": synthetic,
                 "train_ids_sha256": hashlib.sha256("\n".join(train_ids).encode()).hexdigest()},
        "metrics": {k: metrics[k] for k in CARD_METRICS if k in metrics}, "best_val_nme": result.get("best_val_nme"),
    }


def _legacy_card(cell_dir: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(card, config, result) of a cell trained before model cards, from its run files."""
    from hipbench.schema import get_schema

    config, result = read_json(cell_dir / "config.json"), read_json(cell_dir / "result.json")
    with np.load(cell_dir / "predictions.npz", allow_pickle=False) as stored:
        schema = get_schema(str(stored["schema"]))
    return model_card(config, result, schema, cell_dir), config, result


def load_trained_cell(cell_dir: str | Path) -> TrainedCell:
    """Rebuild a trained model from its folder: ``model.json`` and ``model.pt`` suffice; a cell of an older
    run is read from its ``config.json``, ``result.json`` and ``predictions.npz`` instead."""
    import torch

    from hipbench.models.keypoint_model import build_model
    from hipbench.pipeline.framing import build_framing
    from hipbench.schema import get_schema

    cell_dir = Path(cell_dir)
    if is_exported(cell_dir):
        return exported_cell(cell_dir)
    if not (cell_dir / "model.pt").exists():
        raise FileNotFoundError(f"{cell_dir}: no model.pt (a baseline, an exported leaderboard, or unfinished)")
    if (cell_dir / CARD).exists():
        card = read_json(cell_dir / CARD)
        config = read_json(cell_dir / "config.json") if (cell_dir / "config.json").exists() else {}
        result = read_json(cell_dir / "result.json") if (cell_dir / "result.json").exists() else {}
    else:
        card, config, result = _legacy_card(cell_dir)
    schema, train = get_schema(card["schema"]), train_config(card["train"])
    framing = build_framing({k: v for k, v in card["framing"].items() if k != "uses_detector"}, train)
    combo = card["combination"]
    model = build_model(combo["backbone"], combo["head"], num_keypoints=view_keypoints(framing, schema),
                        input_size=framing.input_size, neck=combo.get("neck"))
    model.load_state_dict(torch.load(cell_dir / "model.pt", map_location="cpu", weights_only=True))
    return TrainedCell(cell_dir, card, config, result, framing, schema, train, model.eval())


def is_exported(model_dir: str | Path) -> bool:
    """Whether ``model_dir`` holds an exported graph (its card has an ``export`` section), not ``model.pt``."""
    path = Path(model_dir) / CARD
    return path.exists() and "export" in read_json(path)


def load_exported(model_dir: str | Path, card: dict[str, Any] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function from grey views (B, 1, S, S) float32 in [0, 1] to keypoints (B, K, 2) in view pixels."""
    import torch

    card = card or read_json(Path(model_dir) / CARD)
    export = card["export"]
    path = Path(model_dir) / export["file"]
    if export["format"] == "torchscript":
        module = torch.jit.load(str(path), map_location="cpu").eval()

        def run_ts(views: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                return module(torch.from_numpy(np.ascontiguousarray(views, np.float32))).numpy()

        return run_ts
    from hipbench.extras import require_extra

    require_extra("onnxruntime", "onnx")
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run_onnx(views: np.ndarray) -> np.ndarray:
        return np.asarray(session.run(["keypoints"], {"views": np.ascontiguousarray(views, np.float32)})[0])

    return run_onnx


def exported_cell(model_dir: str | Path) -> TrainedCell:
    """An exported folder as a :class:`TrainedCell` whose ``model`` runs the exported graph."""
    from hipbench.pipeline.framing import build_framing
    from hipbench.schema import get_schema

    model_dir = Path(model_dir)
    card = read_json(model_dir / CARD)
    train = train_config(card["train"])
    framing = build_framing({k: v for k, v in card["framing"].items() if k != "uses_detector"}, train)
    return TrainedCell(model_dir, card, {}, {}, framing, get_schema(card["schema"]), train,
                       ExportedModel(load_exported(model_dir, card)))


class ExportedModel:
    """An exported graph behind the two calls the trainer's ``predict`` makes (``model(x)``, ``decode``), fed
    grey views: the normalisation is inside the graph."""

    def __init__(self, run: Callable[[np.ndarray], np.ndarray]) -> None:
        self.run = run

    def to(self, *args: Any, **kwargs: Any) -> "ExportedModel":
        return self

    def eval(self) -> "ExportedModel":
        return self

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        import torch

        from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

        mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=images.dtype).view(1, 3, 1, 1)
        grey = (images.cpu() * std + mean)[:, :1]  # the trainer normalised it; the graph does that itself
        return torch.from_numpy(self.run(grey.float().numpy()))

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

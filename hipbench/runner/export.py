"""Export a trained model for deployment: the network and its decoding as one TorchScript or ONNX graph from
grey views to view-pixel keypoints, beside the model card (``model.json``, with an ``export`` section) that
says how to frame an image for it. ``hipbench predict --model DIR`` runs such a folder (ONNX through ONNX
Runtime, an optional extra)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from hipbench.files import read_json, write_json
from hipbench.runner.trained import CARD, TrainedCell, load_trained_cell

FORMATS = {"torchscript": "model.ts", "onnx": "model.onnx"}


class _Deployable(nn.Module):
    """Grey views (B, 1, S, S) in [0, 1] -> keypoints (B, K, 2) in view pixels: normalisation, network and
    decoding in one graph."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, model: Any) -> None:
        super().__init__()
        from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

        self.model = model
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, grey: torch.Tensor) -> torch.Tensor:
        images = (grey.expand(-1, 3, -1, -1) - self.mean) / self.std
        decoded: torch.Tensor = self.model.decode(self.model(images))
        return decoded


def export_model(model_dir: str | Path, fmt: str, out: str | Path) -> Path:
    """Write ``out/model.{ts,onnx}`` and ``out/model.json``; check the exported graph against the PyTorch
    model on random views (max keypoint difference in the card); return ``out``."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r}; choose {' or '.join(FORMATS)}")
    cell = load_trained_cell(model_dir)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wrapper = _Deployable(cell.model).eval()
    size = cell.framing.input_size
    example = torch.rand(2, 1, size, size)
    target = out / FORMATS[fmt]
    with torch.no_grad():
        reference = wrapper(example).numpy()
        if fmt == "torchscript":
            torch.jit.trace(wrapper, example, check_trace=False).save(str(target))
        else:
            _export_onnx(wrapper, example, target)
    run = load_exported(out, card={"export": {"format": fmt, "file": target.name}})
    difference = float(np.abs(run(example.numpy()) - reference).max())
    card = {**cell.card, "export": {"format": fmt, "file": target.name, "input": [None, 1, size, size],
                                    "input_range": [0.0, 1.0], "output": "keypoints (B, K, 2), view pixels",
                                    "max_difference_px": difference, "source": str(Path(model_dir))}}
    write_json(out / CARD, card)
    detector = (card.get("detector") or {}).get("checkpoint")
    if detector:  # the detector travels with the model, its path relative to the folder again
        source = (Path(model_dir) / detector).resolve()
        if source.exists():
            shutil.copyfile(source, out / source.name)
            card["detector"] = {**card["detector"], "checkpoint": source.name}
            write_json(out / CARD, card)
    return out


def _export_onnx(wrapper: nn.Module, example: torch.Tensor, target: Path) -> None:
    from hipbench.extras import require_extra

    require_extra("onnx", "onnx")
    torch.onnx.export(wrapper, (example,), str(target), input_names=["views"], output_names=["keypoints"],
                      dynamic_axes={"views": {0: "batch"}, "keypoints": {0: "batch"}}, dynamo=False)


def is_exported(model_dir: str | Path) -> bool:
    path = Path(model_dir) / CARD
    return path.exists() and "export" in read_json(path)


def load_exported(model_dir: str | Path, card: dict[str, Any] | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A function from grey views (B, 1, S, S) float32 in [0, 1] to keypoints (B, K, 2) in view pixels."""
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
    from hipbench.runner.trained import train_config
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
        from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

        mean = torch.tensor(IMAGENET_MEAN, dtype=images.dtype).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD, dtype=images.dtype).view(1, 3, 1, 1)
        grey = (images.cpu() * std + mean)[:, :1]  # the trainer normalised it; the graph does that itself
        return torch.from_numpy(self.run(grey.float().numpy()))

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs

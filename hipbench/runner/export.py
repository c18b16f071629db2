"""Export a trained model for deployment: the network and its decoding as one TorchScript or ONNX graph from
grey views to view-pixel keypoints, beside the model card (``model.json``, with an ``export`` section) that
says how to frame an image for it. ``hipbench predict --model DIR`` runs such a folder (ONNX through ONNX
Runtime, an optional extra; :func:`hipbench.runner.trained.load_trained_cell` reads it)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from hipbench.files import write_json
from hipbench.runner.trained import CARD, load_exported, load_trained_cell

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

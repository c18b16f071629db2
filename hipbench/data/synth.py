"""Writing samples in the ``ihdi_csv`` layout (used by ``hipbench data synth``) and preview mosaics.

Examples:
    >>> import tempfile
    >>> result = write_synthetic(Path(tempfile.mkdtemp()) / "s", num=2, seed=0, size=64)
    >>> sorted(p.name for p in result.root.iterdir())
    ['annotations', 'detections', 'images', 'preview.png']
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.sample import HIP_LABELS, box_from_points


@dataclass
class SynthResult:
    """Where :func:`write_synthetic` wrote, how many images, and how long generation took (seconds).

    Examples:
        >>> SynthResult(Path("s"), Path("s/preview.png"), 4, 0.5).images_per_second
        8.0
    """

    root: Path
    preview: Path
    num: int
    render_seconds: float

    @property
    def images_per_second(self) -> float:
        return self.num / self.render_seconds if self.render_seconds > 0 else float("inf")


def ihdi_line(points: np.ndarray, decimals: int = 3) -> str:
    """One ``ihdi_csv`` annotation line: quoted ``"(x,y)"`` tuples.

    Examples:
        >>> ihdi_line(np.array([[1.0, 2.5], [3.25, 4.0]]))
        '"(1.0,2.5)","(3.25,4.0)"'
    """
    return ",".join(f'"({round(float(x), decimals)},{round(float(y), decimals)})"' for x, y in points)


def write_ihdi_sample(root: Path, image_id: str, pixels: np.ndarray, points: np.ndarray, schema: Any,
                      margin: float = 0.25, bit_depth: int = 8) -> None:
    """Write one image (8-bit PNG; 16-bit for a ``bit_depth`` above 8), its annotation line and its hip boxes
    under ``root``."""
    from PIL import Image

    wide = bit_depth > 8
    scaled = np.round(np.clip(pixels, 0, 1) * (65535 if wide else 255)).astype(np.uint16 if wide else np.uint8)
    Image.fromarray(scaled).save(root / "images" / f"{image_id}.png")
    (root / "annotations" / f"{image_id}.csv").write_text(ihdi_line(points) + "\n")
    size = (pixels.shape[1], pixels.shape[0])
    objects = []
    for side, label in HIP_LABELS.items():
        box = box_from_points(points[schema.side_indices(side)], margin, size)
        objects.append({"label": label, "points": [[round(float(box[0]), 2), round(float(box[1]), 2)],
                                                   [round(float(box[2]), 2), round(float(box[3]), 2)]]})
    (root / "detections" / f"{image_id}.json").write_text(json.dumps({"objects": objects}))


def write_synthetic(out: str | Path, num: int = 40, seed: int = 0, size: int = 256, overwrite: bool = False,
                    preview_count: int = 16, **config: Any) -> SynthResult:
    """Render ``num`` phantom images into ``out`` in the ``ihdi_csv`` layout plus ``preview.png``.

    ``out`` must be empty or absent unless ``overwrite``; ``config`` goes to :class:`PhantomConfig`.

    Examples:
        >>> import tempfile
        >>> r = write_synthetic(Path(tempfile.mkdtemp()) / "s", num=3, size=64, preview_count=2)
        >>> r.num, len(list((r.root / "images").iterdir())), r.preview.is_file()
        (3, 3, True)
    """
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    root = Path(out)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"{root}: directory is not empty; choose a new one or pass overwrite")
    for sub in ("images", "annotations", "detections"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    phantom_config = PhantomConfig(size=int(size), **config)
    samples, previews, render = [], [], 0.0
    for index in range(int(num)):
        started = time.perf_counter()
        sample = phantom_sample(sample_params(seed, index, phantom_config))
        pixels = sample.load_image()
        render += time.perf_counter() - started
        write_ihdi_sample(root, sample.image_id, pixels, sample.keypoints, sample.schema,
                          bit_depth=phantom_config.bit_depth or 8)
        if len(previews) < preview_count:
            previews.append(pixels)
            samples.append(sample)
    preview = preview_mosaic(samples, root / "preview.png", images=previews)
    return SynthResult(root, preview, int(num), render)


SIDE_COLOURS = {"left": (40, 40, 230), "right": (230, 120, 30), "none": (40, 200, 40)}  # BGR


def preview_mosaic(samples: Sequence[Any], path: str | Path, images: Sequence[np.ndarray] | None = None,
                   tile: int = 256, columns: int = 4) -> Path:
    """A PNG grid of ``samples`` with their landmarks drawn (red image-left, orange image-right) and
    Hilgenreiner's line where the schema has triradiate points.

    Examples:
        >>> import tempfile
        >>> from hipbench.data.phantom import phantom_sample, sample_params, PhantomConfig
        >>> s = phantom_sample(sample_params(0, 0, PhantomConfig(size=64)))
        >>> preview_mosaic([s], Path(tempfile.mkdtemp()) / "m.png", tile=64).is_file()
        True
    """
    import cv2

    if not samples:
        raise ValueError("preview_mosaic: no samples")
    tiles = []
    for k, sample in enumerate(samples):
        pixels = images[k] if images is not None else sample.load_image()
        scale = tile / max(pixels.shape)
        canvas = np.zeros((tile, tile, 3), np.uint8)
        small = cv2.resize((np.clip(pixels, 0, 1) * 255).astype(np.uint8),
                           (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA)
        canvas[:small.shape[0], :small.shape[1]] = small[..., None]
        pts = np.asarray(sample.keypoints, dtype=float) * scale
        schema = sample.schema
        tri = [schema.role_points(pts, "triradiate", s) for s in ("left", "right")]
        if all(np.isfinite(t).all() for t in tri):
            cv2.line(canvas, tuple(int(round(v)) for v in tri[0]), tuple(int(round(v)) for v in tri[1]),
                     (90, 200, 90), 1, cv2.LINE_AA)
        radius = max(2, tile // 100)
        for lm, (x, y) in zip(schema.landmarks, pts):
            if np.isfinite([x, y]).all():
                cv2.circle(canvas, (int(round(x)), int(round(y))), radius, SIDE_COLOURS[lm.side], -1, cv2.LINE_AA)
        cv2.putText(canvas, str(sample.image_id)[-24:], (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
        tiles.append(canvas)
    columns = min(columns, len(tiles))
    rows = -(-len(tiles) // columns)
    tiles += [np.zeros_like(tiles[0])] * (rows * columns - len(tiles))
    grid = np.vstack([np.hstack(tiles[r * columns:(r + 1) * columns]) for r in range(rows)])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), grid):
        raise OSError(f"{path}: cannot write the preview image")
    return path

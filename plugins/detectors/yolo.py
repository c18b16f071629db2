"""``yolo``: an Ultralytics YOLO hip detector trained per dataset and fold, and cached.

The network is built from its YAML definition, or starts from ``weights``: a local ``.pt`` file, or an
Ultralytics asset name (``yolo11n.pt``) fetched once through Ultralytics' own asset download into its
weights directory (read-only under ``HIPBENCH_OFFLINE=1``). Training never flips images left-right,
because the two classes are image sides (LeftHip, RightHip). A fold's trained detector is cached under the
run directory, keyed by the training samples and settings, so every combination of the grid reuses it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from hipbench.data.sample import Sample
from hipbench.models.weights import WeightsRecord, file_sha256
from hipbench.pipeline.detector import Boxes, HipDetector
from hipbench.schema import SIDES

CLASSES = ("LeftHip", "RightHip")  # class index = index into SIDES


def _to_bgr(sample: Sample) -> np.ndarray:
    gray = np.clip(sample.load_image() * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=2)


def _label_lines(sample: Sample, margin: float) -> list[str]:
    lines = []
    for cls, side in enumerate(SIDES):
        points = sample.keypoints[sample.schema.side_indices(side)]
        if not np.isfinite(points).all(axis=1).any():
            continue
        x1, y1, x2, y2 = sample.hip_box(side, margin)
        w, h = sample.width, sample.height
        lines.append(f"{cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}")
    return lines


def write_yolo_dataset(samples: Sequence[Sample], root: Path, split: str, margin: float) -> Path:
    """Write ``samples`` as an Ultralytics detection split (PNG images, normalised xywh labels).

    Examples:
        >>> import tempfile; from hipbench.schema import get_schema
        >>> kp = np.array([[20, 20], [30, 25], [25, 35], [26, 40], [80, 20], [70, 25], [75, 35], [74, 40.]])
        >>> s = Sample("a", "a", kp, np.ones(8, bool), {}, (100, 60), get_schema("mtddh8"),
        ...            loader=lambda: np.zeros((60, 100), np.float32))
        >>> root = write_yolo_dataset([s], Path(tempfile.mkdtemp()), "train", margin=0.0)
        >>> (root / "labels" / "train" / "a.txt").read_text().splitlines()[0]
        '0 0.250000 0.500000 0.100000 0.333333'
    """
    import cv2

    images, labels = root / "images" / split, root / "labels" / split
    images.mkdir(parents=True, exist_ok=True)
    labels.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        stem = sample.image_id.replace("/", "_")
        if not cv2.imwrite(str(images / f"{stem}.png"), _to_bgr(sample)):
            raise OSError(f"could not write {images / stem}.png")
        (labels / f"{stem}.txt").write_text("\n".join(_label_lines(sample, margin)) + "\n")
    return root


def resolve_weights(name: str | Path) -> Path:
    """A local ``.pt``: the file itself, else Ultralytics' weights directory, else Ultralytics' own asset
    download into that directory (refused under ``HIPBENCH_OFFLINE=1``, naming the file and the place).
    """
    from hipbench.offline import forbid_download, import_ultralytics, offline_requested

    if Path(name).is_file():
        return Path(name).resolve()
    import_ultralytics()
    from ultralytics.utils import SETTINGS

    target = Path(SETTINGS["weights_dir"]) / Path(name).name
    if target.is_file():
        return target
    if offline_requested():
        raise forbid_download(f"Ultralytics weights {str(name)!r}", Path(name).name, target)
    from ultralytics.utils.downloads import attempt_download_asset

    target.parent.mkdir(parents=True, exist_ok=True)
    found = Path(attempt_download_asset(target))
    if not found.is_file():
        raise FileNotFoundError(f"yolo detector: {name!r} is neither a local file nor an Ultralytics asset")
    return found


class YoloDetector(HipDetector):
    """Ultralytics YOLO LeftHip/RightHip detector.

    Args:
        model: an Ultralytics model YAML (built from scratch), e.g. ``yolo11n.yaml``.
        weights: optional ``.pt`` to initialise from: a local file, or an Ultralytics asset name such as
            ``yolo11n.pt`` (downloaded once into Ultralytics' weights directory; cache only when offline).
        epochs, imgsz, batch, lr0, optimizer, warmup_epochs, patience: Ultralytics training settings; the
            nominal batch equals ``batch`` so every batch is an optimizer step (Ultralytics' default of
            accumulating to 64 leaves a few-dozen-image fold with one step per epoch).
        conf: a confidence floor: the best box per class above it is the hip, otherwise a miss. It is
            low because each image has one hip per side; a short CPU training localises hips well
            (IoU ~0.8) long before its confidences are high.
        margin: box margin around a side's landmarks when the dataset has no boxes.
        val_share: share of the fold's training images the detector validates on.
        seed: training seed.
    """

    name = "yolo"
    checkpoint_suffixes = (".pt",)

    def __init__(self, model: str = "yolo11n.yaml", weights: str | None = None, epochs: int = 30,
                 imgsz: int = 256, batch: int = 8, lr0: float = 0.002, optimizer: str = "AdamW",
                 warmup_epochs: float = 1.0, patience: int = 100, conf: float = 0.01, margin: float = 0.25,
                 val_share: float = 0.2, seed: int = 0) -> None:
        if weights is not None and not Path(weights).is_file() and Path(weights).name != str(weights):
            raise FileNotFoundError(f"yolo detector: weights file {weights!r} does not exist (name a local .pt "
                                    "file, an Ultralytics asset such as yolo11n.pt, or leave weights unset)")
        self.settings = dict(model=model, weights=str(weights) if weights else None, epochs=int(epochs),
                             imgsz=int(imgsz), batch=int(batch), lr0=float(lr0), optimizer=str(optimizer),
                             warmup_epochs=float(warmup_epochs), patience=int(patience),
                             margin=float(margin), val_share=float(val_share), seed=int(seed))
        self.conf = float(conf)
        self.margin = float(margin)
        self.model: Any = None
        self.device = "cpu"

    def _amp(self) -> bool:
        """Mixed precision on GPUs; but Ultralytics' AMP self-check loads an asset it would download, so under
        ``HIPBENCH_OFFLINE=1`` without that asset cached, train in full precision instead."""
        if self.device == "cpu":
            return False
        from ultralytics.utils import WEIGHTS_DIR

        from hipbench.offline import offline_requested

        return not offline_requested() or (Path(WEIGHTS_DIR) / "yolo26n.pt").is_file()

    def _starting_weights(self) -> tuple[Path | None, WeightsRecord]:
        name = self.settings["weights"]
        if not name:
            return None, WeightsRecord()
        path = resolve_weights(name)
        source = "file" if Path(name).is_file() else f"ultralytics/{name}"
        return path, WeightsRecord(source, str(path), file_sha256(path))

    def _fingerprint(self, samples: Sequence[Sample], weights_sha256: str | None = None) -> str:
        settings = {**self.settings, "weights_sha256": weights_sha256}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
        for sample in samples:
            digest.update(sample.image_id.encode())
            digest.update(np.nan_to_num(np.asarray(sample.keypoints, dtype=np.float64)).tobytes())
        return digest.hexdigest()[:16]

    def fit(self, train: Sequence[Sample], work_dir: Path, device: str = "cpu") -> dict[str, Any]:
        """Train (or reuse the cached detector of the same samples and settings) and load its best weights."""
        from hipbench.offline import import_ultralytics

        import_ultralytics()
        from ultralytics import YOLO

        self.device = "0" if device.startswith("cuda") else "cpu"
        work_dir = Path(work_dir).resolve()
        start_path, start = self._starting_weights()
        key = self._fingerprint(train, start.sha256)
        cache = work_dir / key
        best = cache / "train" / "weights" / "best.pt"
        stats_file = cache / "stats.json"
        if best.exists() and stats_file.exists():
            self.model = YOLO(str(best))
            return {**json.loads(stats_file.read_text()), "checkpoint": str(best), "cached": True,
                    "weights": start.as_dict()}
        order = np.random.default_rng(self.settings["seed"]).permutation(len(train))
        n_val = max(1, int(round(self.settings["val_share"] * len(train))))
        val, fit = [train[i] for i in order[:n_val]], [train[i] for i in order[n_val:]]
        data_root = cache / "data"
        write_yolo_dataset(fit, data_root, "train", self.settings["margin"])
        write_yolo_dataset(val, data_root, "val", self.settings["margin"])
        data_yaml = data_root / "data.yaml"
        data_yaml.write_text(json.dumps({"path": str(data_root), "train": "images/train", "val": "images/val",
                                         "names": dict(enumerate(CLASSES))}))
        model = YOLO(str(start_path) if start_path else self.settings["model"])
        started = time.perf_counter()
        model.train(data=str(data_yaml), epochs=self.settings["epochs"], imgsz=self.settings["imgsz"],
                    batch=self.settings["batch"], nbs=self.settings["batch"], lr0=self.settings["lr0"],
                    optimizer=self.settings["optimizer"], warmup_epochs=self.settings["warmup_epochs"],
                    patience=self.settings["patience"],
                    device=self.device, amp=self._amp(), plots=False, project=str(cache), name="train",
                    exist_ok=True, workers=0, seed=self.settings["seed"], deterministic=True, verbose=False,
                    fliplr=0.0, flipud=0.0, mosaic=0.0 if len(fit) < 8 else 1.0)
        seconds = time.perf_counter() - started
        if not best.exists():
            raise RuntimeError(f"yolo detector: training finished without {best}")
        self.model = YOLO(str(best))
        val_map = self._box_map(data_yaml, cache / "val")
        stats = {"train_seconds": seconds, "val_map50": val_map["map50"], "val_map50_95": val_map["map50_95"],
                 "n_train": len(fit), "n_val": len(val)}
        stats_file.write_text(json.dumps(stats))
        return {**stats, "checkpoint": str(best), "cached": False, "weights": start.as_dict()}

    def _box_map(self, data_yaml: Path, out_dir: Path) -> dict[str, float]:
        metrics = self.model.val(data=str(data_yaml), imgsz=self.settings["imgsz"], device=self.device,
                                 plots=False, verbose=False, project=str(out_dir.parent), name=out_dir.name,
                                 exist_ok=True, batch=self.settings["batch"])
        return {"map50": float(metrics.box.map50), "map50_95": float(metrics.box.map)}

    def evaluate(self, samples: Sequence[Sample], work_dir: Path) -> dict[str, Any]:
        """Ultralytics box mAP50 and mAP50-95 of the trained detector on held-out labelled ``samples``."""
        if self.model is None:
            raise RuntimeError("yolo detector: evaluate called before fit")
        root = Path(work_dir).resolve() / "heldout"
        shutil.rmtree(root, ignore_errors=True)
        write_yolo_dataset(samples, root, "val", self.settings["margin"])
        data_yaml = root / "data.yaml"
        data_yaml.write_text(json.dumps({"path": str(root), "train": "images/val", "val": "images/val",
                                         "names": dict(enumerate(CLASSES))}))
        return self._box_map(data_yaml, root / "val")

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, device: str = "cpu", **kwargs: Any) -> YoloDetector:
        """A detector with trained weights (the ``checkpoint`` that ``fit`` reported, or any Ultralytics
        detection ``.pt`` with the LeftHip/RightHip classes) loaded for inference; ``kwargs`` are the
        benchmark's settings (``imgsz``, ``conf``, ...)."""
        detector = cls(**kwargs)
        detector.load(checkpoint, device)
        return detector

    def load(self, checkpoint: Path, device: str = "cpu") -> None:
        """Load trained weights in place for inference."""
        from hipbench.offline import import_ultralytics

        if not Path(checkpoint).is_file():
            raise FileNotFoundError(f"yolo detector: checkpoint {checkpoint} does not exist")
        import_ultralytics()
        from ultralytics import YOLO

        self.device = "0" if str(device).startswith("cuda") else "cpu"
        self.model = YOLO(str(checkpoint))

    def predict(self, samples: Sequence[Sample]) -> list[Boxes]:
        """Best box per side above ``conf``; None where that hip was not found."""
        if self.model is None:
            raise RuntimeError("yolo detector: predict called before fit")
        out: list[Boxes] = []
        for start in range(0, len(samples), 16):
            chunk = samples[start:start + 16]
            results = self.model.predict([_to_bgr(s) for s in chunk], imgsz=self.settings["imgsz"], conf=self.conf,
                                         device=self.device, verbose=False)
            for result in results:
                boxes: Boxes = {"left": None, "right": None}
                cls = result.boxes.cls.cpu().numpy().astype(int)
                conf = result.boxes.conf.cpu().numpy()
                xyxy = result.boxes.xyxy.cpu().numpy()
                for c, side in enumerate(SIDES):
                    hits = np.flatnonzero(cls == c)
                    if len(hits):
                        boxes[side] = xyxy[hits[np.argmax(conf[hits])]].astype(float)
                out.append(boxes)
        return out

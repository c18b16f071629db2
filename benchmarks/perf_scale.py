"""MTDDH at real scale, measured on this machine.

1. Generates an MTDDH-sized set with the infant phantom in the ``mtddh_yolo`` layout that
   ``hipbench data download mtddh`` writes (``images/`` + ``labels/``): ``--images`` radiographs (default 1,900)
   of 1,500-2,500 px, half JPEG and half PNG like the source's two subsets, each rendered at its full size.
   Each square render is padded with black columns to a landscape shape that centres the pelvis (the midpoint
   of the triradiate cartilages): the YOLO-pose format tells the hips apart only by which image half they are in.
   ``ihdi12`` points become ``mtddh8`` labels: ASM and TCC as drawn, the H-point as the midpoint of the
   metaphysis ends, and the femoral head centre (which the phantom does not define) halfway between the
   acetabular roof's midpoint and the metaphysis's. Generation runs in ``--jobs`` processes and resumes: an
   image whose label exists is kept.
2. The prepare stage (the dataset's labels, the split with a hash of every decoded image, the bilateral hip
   crops at 256 px from the labelled boxes, then every fold's views on disk) of a 5-fold benchmark runs in a
   fresh subprocess. That subprocess reports its wall time and peak RSS (``getrusage`` of itself and its
   children). The prepared data's size on disk is summed.
3. One cell (resnet18 + heatmap on bilateral crops, detector ``gt``, one epoch, fold 0) runs in another fresh
   subprocess with ``images/`` moved away. Every image decode in that process is counted: ``read_image``,
   ``Sample.load_image`` and Pillow's ``Image.open``. The cell must finish with a count of 0, so it read only
   the prepared views.

Targets on the 2-core build machine: prepare <= 10 min, peak RSS <= 4 GB, the cell decodes no image.

Usage: ``python benchmarks/perf_scale.py [--images 1900] [--out runs/perf_scale] [--jobs 2] [--threads 2]``
(``--images 50`` for a quick check). Writes ``OUT/perf_scale.json``; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SIZES = (1500, 2500)  # image height range in pixels (MTDDH radiographs are of this order)
PREPARE_TARGET_S, RSS_TARGET_MB = 600.0, 4096.0
MTDDH8 = ("asm", "tcc", "fhc", "h_point")  # per side, in label order: class 0 holds asm, tcc; class 1 fhc, h_point


def _mtddh8_points(points: np.ndarray, side: str) -> dict[str, np.ndarray]:
    """One side's ``mtddh8`` landmarks from phantom ``ihdi12`` points."""
    from hipbench.schema import get_schema

    schema = get_schema("ihdi12")
    at = {name: points[schema.index(f"{side}_{name}")] for name in
          ("asm", "tcc", "roof_mid", "metaphysis_lateral", "metaphysis_mid", "metaphysis_medial")}
    return {"asm": at["asm"], "tcc": at["tcc"], "fhc": (at["roof_mid"] + at["metaphysis_mid"]) / 2,
            "h_point": (at["metaphysis_lateral"] + at["metaphysis_medial"]) / 2}


def yolo_label(points: np.ndarray, width: int, height: int) -> str:
    """The 4-line YOLO-pose label (pelvis and femur object per side) of ``ihdi12`` pixel points."""
    lines = []
    for side in ("left", "right"):
        marks = _mtddh8_points(points, side)
        for cls, names in ((0, MTDDH8[:2]), (1, MTDDH8[2:])):
            pair = np.stack([marks[n] for n in names]) / [width, height]
            centre, extent = pair.mean(axis=0), np.ptp(pair, axis=0) + 0.02
            values = [*centre, *extent, *pair[0], 2, *pair[1], 2]
            lines.append(f"{cls} " + " ".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in values))
    return "\n".join(lines) + "\n"


def column_pads(points: np.ndarray, width: int, extra: int) -> tuple[int, int]:
    """Black columns (left, right) that put the midpoint of the phantom's two triradiate points (``ihdi12``
    ``points``) at the centre of the padded image, plus ``extra`` columns split evenly."""
    from hipbench.schema import get_schema

    schema = get_schema("ihdi12")
    middle = (points[schema.index("left_tcc"), 0] + points[schema.index("right_tcc"), 0]) / 2
    shift = int(round(width - 2 * middle))  # left minus right that centres the middle
    return max(shift, 0) + extra // 2, max(-shift, 0) + extra - extra // 2


def render_one(root: Path, seed: int, index: int, sizes: tuple[int, int] = SIZES) -> int:
    """Write image ``index`` (``sizes`` px high) and its label under ``root``; return the bytes of the image
    file (0 if kept)."""
    from PIL import Image

    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    stem = f"phantom_{index:05d}"
    label = root / "labels" / f"{stem}.txt"
    if label.exists():
        return 0
    rng = np.random.default_rng([seed, index, 7])
    side = int(rng.integers(sizes[0], sizes[1] + 1))
    extra = int(rng.integers(0, side * 3 // 10 + 1))
    sample = phantom_sample(sample_params(seed, index, PhantomConfig(size=side)))
    left, right = column_pads(sample.keypoints, side, extra)
    pixels = np.round(np.clip(sample.load_image(), 0, 1) * 255).astype(np.uint8)
    pixels = np.pad(pixels, ((0, 0), (left, right)))
    points = sample.keypoints + [left, 0]
    suffix, fmt, options = (("png", "PNG", {}) if index % 2 else ("jpg", "JPEG", {"quality": 95}))
    image = root / "images" / f"{stem}.{suffix}"
    partial = image.with_name(f".{image.name}.part")
    Image.fromarray(pixels).save(partial, fmt, **options)
    partial.replace(image)
    label.write_text(yolo_label(points, pixels.shape[1], pixels.shape[0]))  # last: the image is complete
    return image.stat().st_size


def generate(root: Path, images: int, seed: int, jobs: int, sizes: tuple[int, int] = SIZES) -> dict[str, Any]:
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "labels").mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    work = ([root] * images, [seed] * images, range(images), [sizes] * images)
    if jobs <= 1:
        written = list(map(render_one, *work))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            written = list(pool.map(render_one, *work, chunksize=4))
    files = sorted((root / "images").iterdir())
    stale = [p for p in files if not p.name.startswith("phantom_") or int(p.stem.split("_")[1]) >= images]
    if stale:
        raise SystemExit(f"{root}: {len(stale)} image(s) beyond --images {images}; use another --out")
    from hipbench_plugins.datasets.mtddh_yolo import mtddh_yolo

    mtddh_yolo(root, on_error="fail")  # every label reads back (headers only), or this names the first that does not
    return {"seconds": time.perf_counter() - started, "written": sum(1 for w in written if w), "images": len(files),
            "jpeg": sum(p.suffix == ".jpg" for p in files), "png": sum(p.suffix == ".png" for p in files),
            "bytes": sum(p.stat().st_size for p in files)}


def benchmark_file(out: Path, data: Path) -> Path:
    import yaml

    bench = {"name": "perf_scale", "datasets": [{"type": "mtddh_yolo", "root": str(data)}],
             "framings": [{"type": "bilateral_crops"}], "backbones": ["resnet18"], "heads": ["heatmap"],
             "train": {"epochs": 1, "batch_size": 16, "input_size": 256, "warmup_epochs": 0},
             "cv": {"folds": 5}, "detector": "gt", "baseline": False, "device": "cpu", "executor": "serial"}
    path = out / "perf_scale.yaml"
    path.write_text(yaml.safe_dump(bench, sort_keys=False))
    return path


def _peak_rss_mb() -> float:
    """Peak resident set of this process or any child it waited for (Linux reports KiB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def stage_prepare(out: Path) -> dict[str, Any]:
    """In a fresh process: the prepare stage of every fold, timed."""
    import torch

    from hipbench.runner.config import load_benchmark
    from hipbench.runner.prepare import prepare_dataset
    from hipbench.runner.run import checked_plan
    from hipbench.runner.store import RunStore
    from hipbench.runner.tasks import CellTask

    bench = load_benchmark(out / "perf_scale.yaml")
    store = RunStore(out / "run")
    log: list[str] = []

    def echo(line: str) -> None:
        log.append(line)
        print(f"  {line}", flush=True)

    load, started = os.getloadavg()[0], time.perf_counter()
    plan = checked_plan(bench, store)
    errors = prepare_dataset(bench, bench.datasets[0], store, torch.device("cpu"), range(bench.cv.total_folds),
                             echo=echo, framing=bench.framings[0])
    seconds = time.perf_counter() - started
    combination, fold, digest = next(cell for cell in plan.pending if cell[1] == 0)
    # the task as an executor hands it to a worker process: plain data, no samples
    task = CellTask(str(store.root), bench, combination, fold, digest, "cpu", max_retries=0)
    (out / "cell_task.pkl").write_bytes(pickle.dumps(task))
    return {"seconds": seconds, "errors": errors, "peak_rss_mb": _peak_rss_mb(), "log": log,
            "load_average": [load, os.getloadavg()[0]]}


class DecodeCounter:
    """Counts every image decode in this process (each entry point wrapped)."""

    def __init__(self) -> None:
        from PIL import Image

        import hipbench.data.images as images
        from hipbench.data.sample import Sample

        self.calls: dict[str, int] = {"read_image": 0, "Sample.load_image": 0, "PIL.Image.open": 0}
        images.read_image = self._counted("read_image", images.read_image)  # type: ignore[assignment]
        Sample.load_image = self._counted("Sample.load_image", Sample.load_image)  # type: ignore[method-assign]
        Image.open = self._counted("PIL.Image.open", Image.open)  # type: ignore[assignment]

    def _counted(self, name: str, function: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return function(*args, **kwargs)
        return wrapper


def stage_cell(out: Path) -> dict[str, Any]:
    """In a fresh process: fold 0 of the one combination, from the prepared views only."""
    counter = DecodeCounter()
    from hipbench.runner.store import RunStore
    from hipbench.runner.tasks import execute_task

    task = pickle.loads((out / "cell_task.pkl").read_bytes())
    load, started = os.getloadavg()[0], time.perf_counter()
    outcome = execute_task(task)
    result = RunStore(Path(task.run_dir)).result(task.key, task.fold) or {}
    return {"seconds": time.perf_counter() - started, "status": outcome["status"], "error": outcome.get("error"),
            "train_seconds": result.get("train_seconds"), "n_train": result.get("n_train"),
            "n_test": result.get("n_test"), "decodes": counter.calls, "peak_rss_mb": _peak_rss_mb(),
            "load_average": [load, os.getloadavg()[0]]}


def in_fresh_process(stage: str, out: Path, threads: int) -> dict[str, Any]:
    env = {**os.environ, "HIPBENCH_OFFLINE": "1", "HIPBENCH_THREADS": str(threads),
           "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, __file__, "--stage", stage, "--out", str(out)], env=env, cwd=ROOT)
    report = out / f"{stage}.json"
    if done.returncode != 0 or not report.exists():
        raise SystemExit(f"the {stage} stage failed (exit {done.returncode})")
    return json.loads(report.read_text())


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1900)
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "perf_scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2, help="processes rendering the phantom")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the prepare and cell processes")
    parser.add_argument("--stage", choices=["prepare", "cell"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    out = args.out.resolve()
    if args.stage:
        report = stage_prepare(out) if args.stage == "prepare" else stage_cell(out)
        (out / f"{args.stage}.json").write_text(json.dumps(report, indent=1))
        return

    data = out / f"data_{args.images}_s{args.seed}"
    print(f"generating {args.images} phantom radiographs in {data} ({args.jobs} processes) ...", flush=True)
    made = generate(data, args.images, args.seed, args.jobs)
    print(f"  {made['images']} images ({made['jpeg']} JPEG, {made['png']} PNG, {made['bytes'] / 2**20:.0f} MiB), "
          f"{made['written']} rendered now in {made['seconds'] / 60:.1f} min", flush=True)
    benchmark_file(out, data)
    shutil.rmtree(out / "run", ignore_errors=True)
    print("prepare stage (fresh process) ...", flush=True)
    prepare = in_fresh_process("prepare", out, args.threads)
    prepared = folder_bytes(out / "run" / "prepared")
    print(f"  {prepare['seconds'] / 60:.2f} min, peak RSS {prepare['peak_rss_mb']:.0f} MB, prepared data "
          f"{prepared / 2**20:.0f} MiB on disk; 1-min load average {prepare['load_average'][0]:.1f} at the start, "
          f"{prepare['load_average'][1]:.1f} at the end", flush=True)

    moved = data.with_name(data.name + "_images_moved_away")
    print("one cell, one epoch (fresh process, images/ moved away) ...", flush=True)
    (data / "images").rename(moved)
    try:
        cell = in_fresh_process("cell", out, args.threads)
    finally:
        moved.rename(data / "images")
    decodes = sum(cell["decodes"].values())
    if cell["error"]:
        print(f"  cell error: {cell['error']}", flush=True)
    print(f"  {cell['status']}: {cell['seconds'] / 60:.2f} min ({cell['n_train']} training images, training "
          f"{(cell['train_seconds'] or 0) / 60:.2f} min), peak RSS {cell['peak_rss_mb']:.0f} MB, image decodes "
          f"{decodes} {cell['decodes']}; load average {cell['load_average'][0]:.1f} / {cell['load_average'][1]:.1f}",
          flush=True)

    checks = {"prepare <= 10 min": prepare["seconds"] <= PREPARE_TARGET_S,
              "prepare peak RSS <= 4 GB": prepare["peak_rss_mb"] <= RSS_TARGET_MB,
              "cell peak RSS <= 4 GB": cell["peak_rss_mb"] <= RSS_TARGET_MB,
              "cell ok with images/ moved away": cell["status"] == "ok",
              "cell decodes no image": decodes == 0}
    summary = {"images": made, "prepare": prepare, "prepared_bytes": prepared, "cell": cell, "checks": checks,
               "machine": f"{os.cpu_count()} CPU cores", "threads": args.threads, "command": " ".join(sys.argv)}
    (out / "perf_scale.json").write_text(json.dumps(summary, indent=1))
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'} {name}")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()

"""Phantom realism: how much the synthetic pelvis looks like real infant radiographs, per phantom style.

1. Label-free statistics (always): ``--num-stats`` phantom images per style, rendered at 331 px like the ten
   real University of Jordan radiographs (Fraiwan et al. 2022, CC BY 4.0; ``hipbench/samples/jordan_xray``),
   against those ten: pooled intensity histogram, radially averaged power spectrum (each image
   standardised, Hann window), Canny edge density, mean gradient magnitude, Laplacian sd (fine texture) and
   mean local sd (local contrast). Distances to the real set: Wasserstein-1 between the histograms, mean
   ``|log10 P_phantom - log10 P_real|`` over 0.01-0.5 cycles/pixel, and the edge density ratio. Writes
   ``realism_stats.csv|.json|.png`` and ``mosaic_<style>.png`` (5 phantom images above 5 radiographs).
   Then generation speed: images/s per style at 256 and 1500 px, side by side (also in the JSON).
2. Sim-to-real (``--sim2real``; trains): per style, resnet18 + heatmap on hip crops and a YOLO hip detector
   (built from its YAML, no pretrained weights) trained on the phantom alone (one holdout split), then
   ``hipbench predict`` on the ten radiographs: hips the detector found, AIs measured, share in 5-45 deg,
   median AI. Writes ``sim2real.csv|.json`` and ``sim2real_<style>.png`` (the ten overlays); run
   directories go under ``--work``.

The phantom style goes to the phantom only through :func:`style_kwargs`, always explicitly.

Usage: ``HIPBENCH_OFFLINE=1 python benchmarks/phantom_realism.py [--styles cartoon infant] [--sim2real]
[--quick] [--out docs/phantom] [--work runs/phantom_realism]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
REAL_DIR = ROOT / "hipbench" / "samples" / "jordan_xray" / "images"
REAL_LABEL = "real (Fraiwan et al. 2022, CC BY 4.0)"
ATTRIBUTION = ("Real radiographs: University of Jordan DDH X-ray dataset, Fraiwan M., Al-Kofahi N., Hanatleh O., "
               "Ibnian A. (2022), Mendeley Data V2, doi:10.17632/jf3pv98m9g.2, CC BY 4.0 (resized by radoss-org)")
STATS_SIZE = 331  # the real radiographs' side
HIST_BINS = 64
SPECTRUM_BINS = 128
SPECTRUM_BAND = (0.01, 0.5)  # cycles per pixel (0.5 = Nyquist)
CANNY = (50, 150)
AI_RANGE = (5.0, 45.0)
TILE = 256
SPEED_SIZES = (256, 1500)  # the demo's size and a real radiograph's
SIDES = ("left", "right")


# the phantom ------------------------------------------------------------------------------------
def style_kwargs(style: str) -> dict[str, str]:
    """The phantom keyword arguments for ``style``, checked: the one place the style reaches the phantom (the
    renderer here and the benchmark YAML of the sim-to-real check). Always explicit: the default style may
    change, a figure must not."""
    from hipbench.data.phantom import PhantomConfig

    PhantomConfig(style=style)  # ValueError naming the styles there are
    return {"style": style}


def phantom_images(style: str, num: int, size: int = STATS_SIZE, seed: int = 0,
                   ) -> tuple[list[str], list[np.ndarray]]:
    """Ids and pixels (float32 in [0, 1], ``size`` px square) of the first ``num`` phantom images of
    ``style``: the samples ``synthetic_pelvis(num, seed, size)`` holds."""
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    config = PhantomConfig(size=int(size), **style_kwargs(style))
    samples = [phantom_sample(sample_params(seed, i, config)) for i in range(int(num))]
    return [s.image_id for s in samples], [s.load_image() for s in samples]


def real_images(folder: Path) -> tuple[list[str], list[np.ndarray]]:
    """Names and float grayscale pixels in [0, 1] of every image in ``folder``, sorted by name."""
    from hipbench.data.images import is_image_file, read_image

    paths = sorted(p for p in Path(folder).iterdir() if is_image_file(p))
    if not paths:
        raise SystemExit(f"{folder}: no real radiographs found")
    return [p.stem for p in paths], [read_image(p).pixels for p in paths]


# label-free statistics (pure) ------------------------------------------------------------------------
def intensity_histogram(images: Sequence[np.ndarray], bins: int = HIST_BINS) -> np.ndarray:
    """Pooled histogram of all pixels on [0, 1] in ``bins`` equal bins, normalised to sum 1."""
    counts = sum(np.histogram(np.clip(image, 0, 1), bins=bins, range=(0.0, 1.0))[0] for image in images)
    counts = np.asarray(counts, dtype=float)
    return counts / counts.sum()


def histogram_wasserstein(p: np.ndarray, q: np.ndarray) -> float:
    """Wasserstein-1 (earth mover's) distance, in intensity units, between two histograms on [0, 1] with
    equal bins: the L1 distance of their cumulative sums times the bin width."""
    p, q = np.asarray(p, float) / np.sum(p), np.asarray(q, float) / np.sum(q)
    if p.shape != q.shape:
        raise ValueError(f"histograms differ in bins: {p.shape} vs {q.shape}")
    return float(np.abs(np.cumsum(p - q)).sum() / len(p))


def radial_spectrum(image: np.ndarray, bins: int = SPECTRUM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Azimuthally averaged power spectrum of ``image`` standardised (minus its mean, over its sd) and
    Hann-windowed: bin centres in cycles per pixel on (0, 0.5] and the mean power per bin (NaN where a bin
    holds no frequency). Power is scaled by the window's energy, so white noise of any variance gives ~1."""
    image = np.asarray(image, dtype=np.float64)
    sd = image.std()
    standard = (image - image.mean()) / (sd if sd > 0 else 1.0)
    window = np.outer(np.hanning(image.shape[0]), np.hanning(image.shape[1]))
    power = np.abs(np.fft.fft2(standard * window)) ** 2 / np.sum(window ** 2)
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij"))
    edges = np.linspace(0.0, 0.5, bins + 1)
    which = np.digitize(radius.ravel(), edges) - 1
    keep = (which >= 0) & (which < bins) & (radius.ravel() <= 0.5)
    total = np.bincount(which[keep], power.ravel()[keep], minlength=bins)
    count = np.bincount(which[keep], minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return (edges[:-1] + edges[1:]) / 2, mean


def mean_spectrum(images: Sequence[np.ndarray], bins: int = SPECTRUM_BINS) -> tuple[np.ndarray, np.ndarray]:
    """:func:`radial_spectrum` averaged over ``images`` (bins on the same normalised frequencies)."""
    spectra = [radial_spectrum(image, bins) for image in images]
    return spectra[0][0], np.nanmean(np.stack([s for _, s in spectra]), axis=0)


def spectrum_distance(freqs: np.ndarray, a: np.ndarray, b: np.ndarray,
                      band: tuple[float, float] = SPECTRUM_BAND) -> float:
    """Mean ``|log10 a - log10 b|`` over the frequencies of ``band`` (decades; 0 = the same spectrum)."""
    inside = (freqs >= band[0]) & (freqs <= band[1]) & np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    return float(np.mean(np.abs(np.log10(a[inside]) - np.log10(b[inside]))))


def spectrum_slope(freqs: np.ndarray, power: np.ndarray, band: tuple[float, float] = SPECTRUM_BAND) -> float:
    """Least-squares slope of log10 power against log10 frequency over ``band`` (white noise ~0)."""
    inside = (freqs >= band[0]) & (freqs <= band[1]) & np.isfinite(power) & (power > 0)
    return float(np.polyfit(np.log10(freqs[inside]), np.log10(power[inside]), 1)[0])


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] to 8-bit."""
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def edge_density(image: np.ndarray, thresholds: tuple[int, int] = CANNY, blur_sigma: float = 1.0) -> float:
    """Share of pixels that are Canny edges of the 8-bit image after a Gaussian blur of ``blur_sigma`` px."""
    import cv2

    blurred = cv2.GaussianBlur(to_uint8(image), (0, 0), blur_sigma) if blur_sigma > 0 else to_uint8(image)
    return float(np.count_nonzero(cv2.Canny(blurred, *thresholds)) / blurred.size)


def gradient_magnitude(image: np.ndarray) -> float:
    """Mean Sobel gradient magnitude in intensity units per pixel (the 1 px border left out)."""
    import cv2

    pixels = np.asarray(image, np.float32)
    gx, gy = (cv2.Sobel(pixels, cv2.CV_32F, dx, dy, ksize=3)[1:-1, 1:-1] / 8.0 for dx, dy in ((1, 0), (0, 1)))
    return float(np.mean(np.hypot(gx, gy)))


def laplacian_sd(image: np.ndarray) -> float:
    """Standard deviation of the 4-neighbour Laplacian (the 1 px border left out): fine texture and noise,
    0 for a linear ramp."""
    import cv2

    return float(cv2.Laplacian(np.asarray(image, np.float32), cv2.CV_32F, ksize=1)[1:-1, 1:-1].std())


def local_contrast(image: np.ndarray, window: int = 15) -> float:
    """Mean local standard deviation in ``window`` x ``window`` neighbourhoods (RMS local contrast)."""
    import cv2

    pixels = np.asarray(image, np.float32)
    mean = cv2.blur(pixels, (window, window))
    square = cv2.blur(pixels * pixels, (window, window))
    return float(np.mean(np.sqrt(np.maximum(square - mean * mean, 0.0))))


PER_IMAGE = {"edge density (Canny share)": edge_density, "mean gradient (1/px)": gradient_magnitude,
             "Laplacian sd": laplacian_sd, "local contrast (15 px sd)": local_contrast}


@dataclass
class SetStats:
    """One image set's statistics: pooled histogram, mean spectrum and per-image metrics' means."""

    histogram: np.ndarray
    freqs: np.ndarray
    spectrum: np.ndarray
    metrics: dict[str, float]


def set_stats(images: Sequence[np.ndarray]) -> SetStats:
    """Every label-free statistic of ``images``."""
    freqs, spectrum = mean_spectrum(images)
    metrics = {"images": float(len(images)),
               "mean intensity": float(np.mean([i.mean() for i in images])),
               "intensity sd": float(np.mean([i.std() for i in images])),
               **{name: float(np.mean([f(i) for i in images])) for name, f in PER_IMAGE.items()},
               "spectrum slope (log-log)": spectrum_slope(freqs, spectrum)}
    return SetStats(intensity_histogram(images), freqs, spectrum, metrics)


def distances_to(stats: SetStats, real: SetStats) -> dict[str, float]:
    """How far a phantom set lies from the real set."""
    edge = "edge density (Canny share)"
    return {"histogram W1 to real": histogram_wasserstein(stats.histogram, real.histogram),
            "spectrum mean abs dlog10 P to real": spectrum_distance(stats.freqs, stats.spectrum, real.spectrum),
            "edge density / real": stats.metrics[edge] / real.metrics[edge] if real.metrics[edge] else float("nan")}


# sim-to-real (pure parts) -------------------------------------------------------------------------
def count_predictions(records: Sequence[dict[str, Any]], ai_range: tuple[float, float] = AI_RANGE) -> dict[str, Any]:
    """Summarise ``hipbench predict`` JSON records: hips the detector found (``box_source`` 'detector'),
    mirrored and missed, AIs measured, share of them inside ``ai_range``, median AI, and one row per image."""
    sources: list[str] = []
    ais: list[float] = []
    rows = []
    for record in records:
        ai = record.get("acetabular_index_deg") or {}
        source = record.get("box_source") or {}
        row: dict[str, Any] = {"image": Path(str(record.get("image", "?"))).stem}
        for side in SIDES:
            sources.append(str(source.get(side, "missed")))
            row[f"box_{side}"] = source.get(side)
            row[f"ai_{side}"] = ai.get(side)
            if ai.get(side) is not None:
                ais.append(float(ai[side]))
        rows.append(row)
    inside = [a for a in ais if ai_range[0] <= a <= ai_range[1]]
    return {"images": len(records), "hips": 2 * len(records), "found": sources.count("detector"),
            "mirrored": sources.count("mirrored"), "missed": sources.count("missed"), "measured": len(ais),
            "plausible_share": len(inside) / len(ais) if ais else float("nan"),
            "median_ai": float(np.median(ais)) if ais else float("nan"), "per_image": rows}


def load_predictions(folder: Path) -> list[dict[str, Any]]:
    """The per-image JSON files ``hipbench predict`` wrote into ``folder``, sorted by name."""
    return [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]


def phantom_reference(run_dir: Path) -> dict[str, Any]:
    """The trained model's own phantom test split (in-domain reference): NME through the detector's boxes and
    through the label boxes (%), and the share of test hips the detector found (IoU >= 0.5)."""
    for path in sorted(Path(run_dir).glob("cells/*/fold*/result.json")):
        result = json.loads(path.read_text())
        if result.get("status") == "ok" and "baseline" not in result["key"]:
            stats = result.get("detector_stats") or {}
            return {"phantom_test_nme": (result.get("metrics") or {}).get("nme"),
                    "phantom_test_nme_oracle": (result.get("oracle_metrics") or {}).get("nme"),
                    "phantom_test_detector_hits": stats.get("test_hit_rate_iou50")}
    return {}


def benchmark_config(style: str, num: int, epochs: int, detector_epochs: int) -> dict[str, Any]:
    """A one-model benchmark trained on the phantom alone: resnet18 + heatmap on hip crops, a YOLO hip
    detector built from ``yolo11n.yaml`` (random init, nothing to download), one holdout split."""
    return {
        "name": f"phantom_realism_{style}",
        "description": f"sim-to-real check: trained on the {style} phantom only (benchmarks/phantom_realism.py)",
        "datasets": [{"type": "synthetic_pelvis", "num": int(num), "seed": 0, "size": 256, **style_kwargs(style)}],
        "framings": [{"type": "bilateral_crops"}],
        "backbones": [{"type": "resnet18"}],
        "heads": [{"type": "heatmap"}],
        "losses": [{"type": "auto"}],
        "train": {"epochs": int(epochs), "batch_size": 8, "lr": 0.002, "weight_decay": 0.0001,
                  "schedule": "cosine", "warmup_epochs": 1, "grad_clip": 1.0, "input_size": 96,
                  "crop_expand": 1.25, "mirror": True,
                  "augmentation": {"rotation": 10, "translation": 0.05, "scale": 0.1, "brightness": 0.1,
                                   "contrast": 0.15},
                  "seed": 0},
        "cv": {"type": "holdout", "test_share": 0.2, "val_share": 0.15, "seed": 0},
        "detector": {"type": "yolo", "model": "yolo11n.yaml", "epochs": int(detector_epochs), "imgsz": 256,
                     "conf": 0.01, "on_miss": "mirror"},
        "device": "auto",
        "amp": True,
    }


# figures ----------------------------------------------------------------------------------------------
def _tile(image: np.ndarray, text: str, tile: int = TILE) -> np.ndarray:
    """``image`` (grey float or BGR uint8) letterboxed into a ``tile`` px BGR square with ``text`` on it."""
    import cv2

    pixels = to_uint8(image) if image.dtype != np.uint8 else image
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    scale = tile / max(pixels.shape[:2])
    small = cv2.resize(pixels, (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    canvas = np.zeros((tile, tile, 3), np.uint8)
    canvas[:small.shape[0], :small.shape[1]] = small
    cv2.putText(canvas, text[:34], (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text[:34], (4, tile - 6), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def _banner(text: str, width: int, height: int = 24) -> np.ndarray:
    import cv2

    band = np.full((height, width, 3), 32, np.uint8)
    cv2.putText(band, text, (6, height - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    return band


def grid_png(rows: Sequence[tuple[str, Sequence[np.ndarray], Sequence[str]]], path: Path, columns: int = 5) -> Path:
    """A PNG of labelled rows: each (banner text, images, tile captions) becomes a banner above rows of
    ``columns`` tiles."""
    import cv2

    blocks = []
    for label, images, captions in rows:
        tiles = [_tile(image, caption) for image, caption in zip(images, captions)]
        tiles += [np.zeros((TILE, TILE, 3), np.uint8)] * (-len(tiles) % columns)
        blocks.append(_banner(label, columns * TILE))
        blocks += [np.hstack(tiles[k:k + columns]) for k in range(0, len(tiles), columns)]
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(blocks)):
        raise OSError(f"{path}: cannot write")
    return path


def stats_figure(sets: dict[str, SetStats], path: Path) -> Path:
    """Histograms, log-log spectra, edge density and texture bars of every set, overlaid."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.2))
    centres = (np.arange(HIST_BINS) + 0.5) / HIST_BINS
    colours = {name: f"C{k}" if name != "real" else "k" for k, name in enumerate(sets)}
    for name, stats in sets.items():
        axes[0].step(centres, stats.histogram, where="mid", color=colours[name], label=name)
        inside = stats.freqs >= SPECTRUM_BAND[0]
        axes[1].loglog(stats.freqs[inside], stats.spectrum[inside], color=colours[name], label=name)
    axes[0].set(xlabel="intensity", ylabel="share of pixels", title="intensity histogram (pooled)")
    axes[1].set(xlabel="frequency (cycles/pixel)", ylabel="power (standardised image)",
                title="radial power spectrum (Hann)")
    axes[1].xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes[1].set_xticks([0.01, 0.02, 0.05, 0.1, 0.2, 0.5], ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5"])
    names = list(sets)
    x = np.arange(len(names))
    edge = [sets[n].metrics["edge density (Canny share)"] for n in names]
    axes[2].bar(x, edge, color=[colours[n] for n in names])
    axes[2].set(xticks=x, xticklabels=names, ylabel="share of pixels",
                title=f"Canny edge density ({CANNY[0]}/{CANNY[1]}, blur 1 px)")
    width = 0.8 / 3
    for k, metric in enumerate(("mean gradient (1/px)", "Laplacian sd", "local contrast (15 px sd)")):
        axes[3].bar(x + (k - 1) * width, [sets[n].metrics[metric] for n in names], width, label=metric,
                    color=f"C{k + 4}")
    axes[3].set(xticks=x, xticklabels=names, title="gradient and texture")
    axes[3].set_ylim(top=axes[3].get_ylim()[1] * 1.3)  # room for the legend above the bars
    for ax in (axes[0], axes[1], axes[3]):
        ax.legend(fontsize=8, loc="upper right")
    real = sets.get("real")
    fig.text(0.5, 0.005, f"real: {int(real.metrics['images']) if real else 0} radiographs. {ATTRIBUTION}",
             ha="center", fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# output tables ----------------------------------------------------------------------------------------
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if not np.isfinite(value) else (f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}")
    return "-" if value is None else str(value)


def print_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A markdown table."""
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(_fmt(v) for v in row) + " |")


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# the two parts --------------------------------------------------------------------------------------------
def _shown(path: Path) -> str:
    """``path`` relative to the repository when inside it (the committed JSON names no machine's folders)."""
    resolved = path.resolve()
    return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(path)


def realism_stats(styles: Sequence[str], num: int, real_dir: Path, out: Path) -> None:
    """Part 1: statistics, table, CSV/JSON, figure and mosaics."""
    names, real = real_images(real_dir)
    sizes = {image.shape for image in real}
    size = max(max(s) for s in sizes)  # the phantom is square
    print(f"real: {len(real)} radiographs from {real_dir} ({', '.join(f'{w}x{h}' for h, w in sizes)}); "
          f"phantom rendered at {size} px")
    rendered, ids, sets = {}, {}, {}
    for style in styles:
        started = time.perf_counter()
        ids[style], rendered[style] = phantom_images(style, num, size=size)
        sets[style] = set_stats(rendered[style])
        print(f"{style}: {num} phantom images rendered and measured in {time.perf_counter() - started:.1f} s")
    sets["real"] = set_stats(real)
    columns = list(styles) + ["real"]
    metrics = list(sets["real"].metrics)
    rows: list[list[Any]] = [[m] + [sets[c].metrics[m] for c in columns] for m in metrics]
    distances = {name: distances_to(sets[name], sets["real"]) for name in columns}
    rows += [[d] + [distances[c][d] for c in columns] for d in distances["real"]]
    header = ["metric", *columns]
    print()
    print_table(header, rows)
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "realism_stats.csv", header, rows)
    data = {"settings": {"num_stats": num, "size": size, "hist_bins": HIST_BINS,
                         "spectrum_bins": SPECTRUM_BINS, "spectrum_band": SPECTRUM_BAND, "canny": CANNY,
                         "real_dir": _shown(real_dir), "real_images": names, "attribution": ATTRIBUTION},
            "metrics": {c: sets[c].metrics for c in columns}, "distances_to_real": {s: distances[s] for s in styles},
            "histograms": {c: sets[c].histogram for c in columns},
            "spectra": {"freqs": sets["real"].freqs, **{c: sets[c].spectrum for c in columns}}}
    (out / "realism_stats.json").write_text(json.dumps(_json_safe(data), indent=1))
    written = [stats_figure(sets, out / "realism_stats.png")]
    for style in styles:
        written.append(grid_png([(f"phantom ({style})", rendered[style][:5], ids[style][:5]),
                                 (REAL_LABEL, real[:5], names[:5])], out / f"mosaic_{style}.png"))
    print("\nwrote " + ", ".join(str(p) for p in [out / "realism_stats.csv", out / "realism_stats.json", *written]))


def generation_speed(styles: Sequence[str], sizes: Sequence[int] = SPEED_SIZES, seconds: float = 3.0,
                     ) -> dict[str, dict[int, float]]:
    """Images per second (parameters, render and sample) per style and image size, each measured for about
    ``seconds`` in this process, side by side; printed with the ratio to the first style."""
    from hipbench.data.phantom import PhantomConfig, phantom_sample, sample_params

    speed: dict[str, dict[int, float]] = {}
    for style in styles:
        speed[style] = {}
        for size in sizes:
            config = PhantomConfig(size=int(size), **style_kwargs(style))
            count, started = 0, time.perf_counter()
            while count < 2 or time.perf_counter() - started < seconds:
                phantom_sample(sample_params(0, count, config)).load_image()
                count += 1
            speed[style][int(size)] = count / (time.perf_counter() - started)
    rows = [[f"{size} px"] + [speed[s][size] for s in styles]
            + ([speed[styles[0]][size] / speed[s][size] for s in styles[1:]]) for size in sizes]
    print()
    print_table(["images/s", *styles, *(f"{styles[0]} / {s}" for s in styles[1:])], rows)
    return speed


def run_hipbench(args: list[str], log: Path) -> float:
    """``python -m hipbench ARGS`` with its output in ``log``; wall seconds (raises when it fails)."""
    started = time.perf_counter()
    with open(log, "w") as handle:
        done = subprocess.run([sys.executable, "-m", "hipbench", *args], stdout=handle, stderr=subprocess.STDOUT,
                              cwd=ROOT, env=dict(os.environ))
    if done.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-15:])
        raise RuntimeError(f"hipbench {args[0]} exited {done.returncode}; the end of {log}:\n{tail}")
    return time.perf_counter() - started


def sim2real(styles: Sequence[str], num: int, epochs: int, detector_epochs: int, real_dir: Path, work: Path,
             out: Path, device: str, fresh: bool) -> None:
    """Part 3: train on each style, predict on the radiographs, count and draw."""
    import yaml

    results: dict[str, dict[str, Any]] = {}
    for style in styles:
        folder = (work / style).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "benchmark.yaml"
        config.write_text(yaml.safe_dump(benchmark_config(style, num, epochs, detector_epochs), sort_keys=False))
        run_dir, predict_dir = folder / "run", folder / "predict"
        print(f"{style}: training ({config}) ...", flush=True)
        train_s = run_hipbench(["run", str(config), "--out", str(run_dir), "--device", device, "--no-progress",
                                *(["--fresh"] if fresh else [])], folder / "run.log")
        predict_s = run_hipbench(["predict", str(real_dir), "--model", str(run_dir), "--out", str(predict_dir),
                                  "--device", device], folder / "predict.log")
        results[style] = {**count_predictions(load_predictions(predict_dir)), **phantom_reference(run_dir),
                          "train_seconds": train_s,
                          "predict_seconds": predict_s, "run_dir": str(run_dir), "config": str(config)}
        print(f"{style}: trained in {train_s:.0f} s, predicted in {predict_s:.0f} s", flush=True)
        overlays = sorted(predict_dir.glob("*_overlay.png"), key=lambda p: p.stem.removesuffix("_overlay"))
        import cv2

        grid_png([(f"phantom-trained ({style}) on {REAL_LABEL}",
                   [cv2.imread(str(p)) for p in overlays], [p.stem.removesuffix("_overlay") for p in overlays])],
                 out / f"sim2real_{style}.png")
    summary = [("train wall time (s)", "train_seconds"), ("real: hips", "hips"),
               ("real: hips found by detector", "found"), ("real: hips mirrored", "mirrored"),
               ("real: hips missed", "missed"), ("real: hips with an AI", "measured"),
               (f"real: share of AIs in {AI_RANGE[0]:.0f}-{AI_RANGE[1]:.0f} deg", "plausible_share"),
               ("real: median AI (deg)", "median_ai"),
               ("phantom test NME % (detector boxes)", "phantom_test_nme"),
               ("phantom test NME % (label boxes)", "phantom_test_nme_oracle"),
               ("phantom test hips detected (IoU>=0.5)", "phantom_test_detector_hits")]
    header = ["metric", *styles]
    rows = [[label] + [results[s].get(key) for s in styles] for label, key in summary]
    print()
    print_table(header, rows)
    images = [r["image"] for r in results[styles[0]]["per_image"]]
    print()
    print_table(["image", *(f"{s} AI L / R (box L / R)" for s in styles)],
                [[image] + [_image_cell(results[s]["per_image"][k]) for s in styles]
                 for k, image in enumerate(images)])
    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "sim2real.csv", header, rows)
    settings = {"num_train": num, "epochs": epochs, "detector_epochs": detector_epochs, "device": device,
                "real_dir": _shown(real_dir), "attribution": ATTRIBUTION}
    (out / "sim2real.json").write_text(json.dumps(_json_safe({"settings": settings, "styles": results}), indent=1))
    print(f"\nwrote {out / 'sim2real.csv'}, {out / 'sim2real.json'}, "
          + ", ".join(str(out / f"sim2real_{s}.png") for s in styles))


def _image_cell(row: dict[str, Any]) -> str:
    ai = " / ".join("-" if row[f"ai_{s}"] is None else f"{row[f'ai_{s}']:.1f}" for s in SIDES)
    return f"{ai} ({row['box_left']} / {row['box_right']})"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--styles", nargs="+", default=["cartoon", "infant"], help="phantom styles to compare")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "phantom", help="where tables and figures go")
    parser.add_argument("--real", type=Path, default=REAL_DIR, help="folder of real radiographs")
    parser.add_argument("--num-stats", type=int, default=40, help="phantom images per style for the statistics")
    parser.add_argument("--sim2real", action="store_true", help="also train on each style and predict on the real")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "phantom_realism",
                        help="sim-to-real run directories")
    parser.add_argument("--num-train", type=int, default=150, help="phantom images of the sim-to-real benchmark")
    parser.add_argument("--epochs", type=int, default=24, help="keypoint model epochs")
    parser.add_argument("--detector-epochs", type=int, default=30, help="YOLO hip detector epochs")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--reuse", action="store_true",
                        help="resume existing sim-to-real runs instead of retraining (train time is then not measured)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 8 images for statistics, 24 to train, 2 epochs, 1 detector epoch")
    args = parser.parse_args(argv)
    if args.quick:
        args.num_stats, args.num_train, args.epochs, args.detector_epochs = 8, 24, 2, 1
    try:
        for style in args.styles:
            style_kwargs(style)  # stop before any work when a style cannot be rendered
    except ValueError as exc:
        parser.error(str(exc))
    realism_stats(args.styles, args.num_stats, args.real, args.out)
    speed = generation_speed(args.styles, seconds=0.5 if args.quick else 3.0)
    stats_json = args.out / "realism_stats.json"
    stats_json.write_text(json.dumps({**json.loads(stats_json.read_text()), "images_per_second": speed}, indent=1))
    if args.sim2real:
        print()
        sim2real(args.styles, args.num_train, args.epochs, args.detector_epochs, args.real, args.work, args.out,
                 args.device, fresh=not args.reuse)


if __name__ == "__main__":
    main()

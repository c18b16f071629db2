"""``hipbench predict``: landmarks and measurement on new radiographs with a trained run (hip crops from
the run's detector, or the whole image, as the chosen cell was trained).

Examples:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(predict_command, ["--help"]).output.splitlines()[0]
    'Usage: predict [OPTIONS] IMAGE_OR_DIR...'
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from hipbench.inference import Prediction


@click.command("predict")
@click.argument("inputs", nargs=-1, required=True, metavar="IMAGE_OR_DIR...",
                type=click.Path(exists=True, path_type=Path))
@click.option("--model", "model_path", required=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A run directory (the cell of its best row that can run on new images is used) or one cell "
                   "directory (RUN_DIR/cells/KEY/foldN).")
@click.option("--combination", default=None, metavar="KEY",
              help="Predict with this leaderboard row of the run (its key, or a unique part of it) instead of the "
                   "best one.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("predictions"),
              show_default=True, help="Where the JSON files, overlays and summary.csv go.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--detector-weights", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="A trained hip detector's weights file (e.g. a YOLO .pt) to use instead of the run's own "
                   "detector.")
@click.option("--detector-type", default=None, metavar="NAME",
              help="The detector plugin that loads --detector-weights (default: the registered detector that "
                   "declares the file's suffix).")
@click.option("--ensemble", type=click.Choice(["none", "folds"]), default="none", show_default=True,
              help="folds: average the chosen row's fold models; the JSON and overlay then show each landmark's "
                   "spread and the AI's sd across them, with a warning to re-measure by hand when they disagree.")
@click.option("--on-miss", type=click.Choice(["missing", "mirror"]), default=None,
              help="What to do with a hip the detector misses (default: the run's policy).")
def predict_command(inputs: tuple[Path, ...], model_path: Path, combination: str | None, out_dir: Path, device: str,
                    detector_weights: Path | None, detector_type: str | None, on_miss: str | None,
                    ensemble: str) -> None:
    """Predict landmarks and measure AI and IHDI on PNG/JPEG/DICOM images.

    Writes one JSON and one overlay PNG per image, and summary.csv. Sides are image sides.
    """
    from hipbench.data.images import ImageReadError
    from hipbench.inference import (
        EnsemblePredictor,
        HipPredictor,
        choose_cell,
        find_images,
        unique_stems,
        write_image_outputs,
        write_summary,
    )
    from hipbench.registry import PluginError

    try:
        images = find_images(inputs)
        if not images:
            raise FileNotFoundError(f"no images (.png, .jpg, .dcm, ...) in {', '.join(map(str, inputs))}")
        if detector_type is not None and detector_weights is None:
            raise ValueError("--detector-type names the detector of --detector-weights; pass both")
        choice = choose_cell(model_path, combination, have_detector_weights=detector_weights is not None)
        settings: dict[str, Any] = {"device": device, "detector_weights": detector_weights, "on_miss": on_miss,
                                    "detector_type": detector_type}
        predictor: HipPredictor | EnsemblePredictor = (
            EnsemblePredictor(choice.folds, **settings) if ensemble == "folds"
            else HipPredictor(choice.cell, **settings))
    except (FileNotFoundError, ValueError, NotImplementedError, PluginError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"row: {choice.reason}")
    click.echo(f"model: {choice.cell} ({_model_text(predictor.describe())})"
               + (f"; ensemble of {len(choice.folds)} fold models" if ensemble == "folds" else ""))
    stems = unique_stems(images)
    rows: list[dict] = []
    failed: list[tuple[Path, str]] = []
    for path in images:
        try:
            pred, pixels = predictor.predict_image(path)
        except ImageReadError as exc:  # one unreadable file does not stop the others; it is reported
            failed.append((path, str(exc)))
            continue
        rows.append(write_image_outputs(pred, pixels, predictor, out_dir, stems[path]))
        click.echo(f"{path.name}: {_measures_text(pred)}; {len(pred.warnings)} warning(s)")
    summary = write_summary(rows, failed, out_dir)
    click.echo(f"{len(rows)} image(s) processed: {2 * len(rows)} files and {summary}")
    if failed:
        click.echo(f"{len(failed)} image(s) could not be read (listed in summary.csv):", err=True)
        for path, why in failed:
            click.echo(f"  {path}: {why}", err=True)
        sys.exit(1)


def _model_text(described: dict[str, Any]) -> str:
    parts = [f"{described['backbone']['type']} / {described['head']['type']}",
             f"framing {described['framing']['type']}", f"detector {described['detector']}"]
    if described["on_miss"] is not None:
        parts.append(f"on_miss={described['on_miss']}")
    return ", ".join(parts)


def _measures_text(pred: Prediction) -> str:
    """AI and IHDI per image side, or, for a schema without hip measures, how many landmarks were found."""
    import numpy as np

    from hipbench.pipeline.overlay import NO_HIP_MEASURES

    if pred.ai is None or pred.ihdi is None:
        found = int(np.isfinite(pred.keypoints).all(axis=1).sum())
        return f"{found}/{len(pred.keypoints)} landmarks; {NO_HIP_MEASURES}"
    ai = ", ".join(f"{side} {v:.1f}" if np.isfinite(v) else f"{side} n/a" for side, v in zip(("L", "R"), pred.ai))
    return f"AI {ai} deg (image-left, image-right); IHDI {pred.ihdi.tolist()}"

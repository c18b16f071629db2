"""``hipbench robustness RUN``: re-evaluate every trained cell of a run under perturbations (no retraining)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("robustness")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--suite", default="default", show_default=True,
              help="A suite (default: every perturbation; quick: rotation, contrast, noise, resolution) or a "
                   "comma-separated list of perturbations.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
def robustness_command(run_dir: Path, suite: str, device: str) -> None:
    """Evaluate RUN_DIR's trained cells on their test folds under rotation, tilt, scale, contrast, gamma,
    Gaussian and Poisson noise, blur, resolution loss, JPEG and hip-box jitter, three severities each;
    write RUN_DIR/robustness/ and rebuild the leaderboard with its robustness column."""
    from hipbench.leaderboard.build import build_leaderboard
    from hipbench.robustness.suite import run_suite

    try:
        paths = run_suite(run_dir, suite, device, echo=click.echo)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    build_leaderboard(run_dir)
    click.echo(f"robustness: {paths['csv']}, {paths['heatmap']}; leaderboard rebuilt: {run_dir / 'leaderboard.md'}")

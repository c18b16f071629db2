"""``hipbench tta RUN``: test-time augmentation and per-landmark uncertainty over a run's trained cells (no
retraining), then the leaderboard again with its ``+tta`` rows and uncertainty columns."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("tta")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--tta", "augmentations", default="flip", show_default=True,
              help="Comma-separated test-time augmentations: flip, shift.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu or cuda.")
@click.option("--force", is_flag=True, help="Redo cells whose TTA files are already current.")
def tta_command(run_dir: Path, augmentations: str, device: str, force: bool) -> None:
    """Predict every trained cell's test fold again under each augmentation (a left-right flip where the
    framing allows one; shifts of the view by 1/64 of its side), average in full-image pixels, and write
    predictions_tta.npz (with the uncertainty of each landmark), uncertainty.npz (the codec's, for the plain
    predictions) and tta.json into each cell; rebuild the leaderboard with a '+tta' row per combination."""
    from hipbench.leaderboard.build import build_leaderboard
    from hipbench.runner.tta import run_tta

    names = [n.strip() for n in augmentations.split(",") if n.strip()]
    try:
        counts = run_tta(run_dir, names, device, force=force, echo=click.echo)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    paths = build_leaderboard(run_dir)
    click.echo(f"tta: {counts['done']} cell(s) done, {counts['current']} already current, {counts['failed']} "
               f"failed; leaderboard rebuilt: {paths.get('md', run_dir / 'leaderboard.md')}")
    if counts["failed"]:
        raise SystemExit(1)

"""``hipbench tune-report RUN``: plots of each tuned combination's studies (Optuna's own visualisation)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("tune-report")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
def tune_report_command(run_dir: Path) -> None:
    """Plot the optimisation history and parameter importances of every tuned combination x fold of RUN_DIR
    (its tuning.journal studies) into RUN_DIR/tuning_report/, with index.md: trials, pruned, failed, best
    validation NME and the chosen values per fold. Trains nothing."""
    from hipbench.extras import MissingExtra, require_extra

    try:
        require_extra("optuna", "tune")
        from hipbench.leaderboard.tuning_report import tune_report

        tune_report(run_dir, echo=click.echo)
    except (MissingExtra, ValueError) as exc:
        raise click.ClickException(str(exc)) from None

"""``hipbench run`` and ``hipbench leaderboard``."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command("run")
@click.argument("benchmark_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run directory (default: runs/<benchmark name>). Finished cells there are reused.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Override the benchmark's device (auto: CUDA when present, else CPU).")
@click.option("--fresh", is_flag=True, help="Delete the run directory and start over (default: resume).")
@click.option("--strict", is_flag=True, help="Stop before training if any combination is invalid.")
@click.option("--no-progress", is_flag=True, help="No progress bars (logs and results are unchanged).")
def run_command(benchmark_file: Path, out: Path | None, device: str | None, fresh: bool, strict: bool,
                no_progress: bool) -> None:
    """Train and evaluate every combination x fold of BENCHMARK_FILE and write the leaderboard."""
    from hipbench.runner.config import ConfigError, load_benchmark
    from hipbench.runner.run import run_benchmark

    try:
        bench = load_benchmark(benchmark_file)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    out = out or Path("runs") / bench.name
    run_benchmark(bench, out, device=device, fresh=fresh, strict=strict, progress=not no_progress, echo=click.echo)


@click.command("leaderboard")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "formats", type=click.Choice(["md", "csv", "html"]), multiple=True,
              help="Formats to write (repeatable; default: all three).")
def leaderboard_command(run_dir: Path, formats: tuple[str, ...]) -> None:
    """Rebuild the leaderboard of RUN_DIR from its stored cell results and print the Markdown table."""
    from hipbench.leaderboard.build import build_leaderboard

    paths = build_leaderboard(run_dir, formats=formats or ("md", "csv", "html"))
    if "md" in paths:
        click.echo(paths["md"].read_text())
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")

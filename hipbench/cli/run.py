"""``hipbench run``, ``hipbench status`` and ``hipbench leaderboard``."""

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
@click.option("--executor", "executor_name", default=None,
              help="Where cells run: serial, local, slurm (alias submitit), ray or a plugin (overrides the file's "
                   "executor:).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Worker processes (local executor).")
@click.option("--worker", is_flag=True,
              help="Join the run as a cooperative worker (start one per machine sharing --out).")
@click.option("--dry-run", is_flag=True, help="Validate, count the cells and estimate the time; train nothing.")
@click.option("--fresh", is_flag=True, help="Delete the run directory and start over (default: resume).")
@click.option("--strict", is_flag=True, help="Stop before training if any combination is invalid.")
@click.option("--no-progress", is_flag=True, help="No progress bars (logs and results are unchanged).")
def run_command(benchmark_file: Path, out: Path | None, device: str | None, executor_name: str | None,
                workers: int | None, worker: bool, dry_run: bool, fresh: bool, strict: bool,
                no_progress: bool) -> None:
    """Train and evaluate every combination x fold of BENCHMARK_FILE and write the leaderboard.

    Exit codes: 0 every cell finished; 1 some cell failed (the others ran, the leaderboard is written);
    2 the benchmark cannot run as written (nothing was trained).
    """
    from hipbench.runner.config import Component, ConfigError, load_benchmark
    from hipbench.runner.run import EXIT_INVALID, RunInvalid, run_benchmark

    try:
        bench = load_benchmark(benchmark_file)
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    out = out or Path("runs") / bench.name
    spec = bench.executor
    if executor_name:
        spec = Component(executor_name, spec.kwargs if executor_name == spec.type else {})
    if workers is not None:
        if spec.type != "local":
            click.echo(f"error: --workers sets the local executor's worker processes; the executor here is "
                       f"{spec.type!r} (add --executor local)", err=True)
            sys.exit(EXIT_INVALID)
        spec = Component(spec.type, {**spec.kwargs, "workers": workers}, spec.line)
    try:
        if dry_run:
            from hipbench.runner.dry_run import dry_run as describe

            describe(bench, out, device, spec, echo=click.echo)
            return
        summary = run_benchmark(bench, out, device=device, fresh=fresh, strict=strict, progress=not no_progress,
                                echo=click.echo, executor=spec, worker=worker)
    except RunInvalid as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_INVALID)
    sys.exit(summary.exit_code)


@click.command("status")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--all", "show_all", is_flag=True, help="List finished cells too.")
def status_command(run_dir: Path, show_all: bool) -> None:
    """Done / running (where, since when) / failed (why) / pending per cell of RUN_DIR, with an ETA."""
    from hipbench.runner.status import run_status

    try:
        report = run_status(run_dir)
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.text(show_all=show_all))


@click.command("leaderboard")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write a leaderboard merged from several runs (required with more than one).")
@click.option("--format", "formats", type=click.Choice(["md", "csv", "html"]), multiple=True,
              help="Formats to write (repeatable; default: all three).")
@click.option("--columns", type=click.Choice(["default", "all"]), default="default", show_default=True,
              help="Markdown columns to print: the compact view or every column.")
@click.option("--export", "export_to", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Copy results and predictions (no weights) to DIR and build the leaderboard there, "
                   "so it can be committed and rebuilt from the repository alone.")
def leaderboard_command(run_dirs: tuple[Path, ...], out: Path | None, formats: tuple[str, ...], columns: str,
                        export_to: Path | None) -> None:
    """Rebuild the leaderboard of RUN_DIR from its stored cell results and print the Markdown table.

    With several RUN_DIRS (two benchmark files, or one file run on two machines) the rows are merged into
    one table under --out; rows are paired only on the same dataset, split and detector boxes.
    """
    from hipbench.leaderboard.build import build_leaderboard

    if len(run_dirs) > 1 and out is None:
        raise click.UsageError("merging several runs needs --out DIR")
    if export_to is not None:
        if len(run_dirs) > 1:
            raise click.UsageError("--export takes one run directory")
        from hipbench.leaderboard.export import export_run

        run_dirs = (export_run(run_dirs[0], export_to),)
    target = run_dirs[0] if len(run_dirs) == 1 else list(run_dirs)
    paths = build_leaderboard(target, formats=formats or ("md", "csv", "html"), out=out)
    if "md" in paths:
        click.echo(paths["md" if columns == "default" else "md_all"].read_text())
    for kind, path in paths.items():
        click.echo(f"{kind}: {path}")

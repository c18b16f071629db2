"""``hipbench data synth|check|stats|download``: make, validate, describe and download datasets.

Examples:
    >>> from click.testing import CliRunner
    >>> "synth" in CliRunner().invoke(data_command, ["--help"]).output
    True
"""

from __future__ import annotations

from typing import Any

import click


@click.group("data")
def data_command() -> None:
    """Make (synth), validate (check), describe (stats) and download (download) keypoint datasets."""


@data_command.command("synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--num", default=40, show_default=True, type=click.IntRange(min=1), help="Number of images.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed (same seed, same images).")
@click.option("--size", default=256, show_default=True, type=click.IntRange(min=32), help="Image size in pixels.")
@click.option("--grade-mix", default="0.6,0.2,0.12,0.08", show_default=True,
              help="Per-hip IHDI grade I,II,III,IV proportions.")
@click.option("--style", type=click.Choice(["infant", "cartoon"]), default="infant", show_default=True,
              help="infant: an infant pelvis drawn from anatomy; cartoon: the fast flat-shape phantom.")
@click.option("--age", default=None, metavar="LOW,HIGH", help="Age range in years (infant style; default 0,4).")
@click.option("--bit-depth", type=click.Choice(["8", "12", "16"]), default="8", show_default=True,
              help="Detector bit depth; 12 and 16 are written as 16-bit PNG.")
@click.option("--overwrite", is_flag=True, help="Write into a non-empty OUT.")
def synth_command(out: str, num: int, seed: int, size: int, grade_mix: str, style: str, age: str | None,
                  bit_depth: str, overwrite: bool) -> None:
    """Write the synthetic pelvis phantom to OUT in the ihdi_csv layout, with a preview mosaic."""
    from hipbench.data.synth import write_synthetic

    try:
        mix = tuple(float(v) for v in grade_mix.split(","))
        extra: dict[str, Any] = {"age": tuple(float(v) for v in age.split(","))} if age else {}
        result = write_synthetic(out, num=num, seed=seed, size=size, overwrite=overwrite, grade_mix=mix, style=style,
                                 bit_depth=int(bit_depth), **extra)
    except (ValueError, FileExistsError, TypeError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"wrote {result.num} images to {result.root} (images/, annotations/, detections/)")
    click.echo(f"preview: {result.preview}")
    click.echo(f"generation: {result.images_per_second:.1f} images/s at {size} px")


@data_command.command("check")
@click.argument("root", type=click.Path())
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Dataset format: auto (detected) or a DATASETS plugin name (`hipbench list datasets`).")
@click.option("--no-decode", is_flag=True, help="Skip decoding images (faster; misses unreadable images).")
def check_command(root: str, fmt: str, no_decode: bool) -> None:
    """Validate the dataset in ROOT; print every problem with its file. Exit 1 on errors."""
    from hipbench.data.check import check_dataset

    report = check_dataset(root, format=fmt, decode=not no_decode)
    click.echo(report.text())
    if not report.ok:
        raise SystemExit(1)


@data_command.command("stats")
@click.argument("root", type=click.Path())
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Directory for the CSVs and plots.")
@click.option("--format", "fmt", default="auto", show_default=True, help="Dataset format (see check).")
def stats_command(root: str, out: str, fmt: str) -> None:
    """AI and IHDI distributions per side of the dataset in ROOT (CSV + PNG plots in OUT); for a measure table
    (av_ddh), the measured values per side and the DDH labels."""
    from hipbench.data.dataset import DatasetError
    from hipbench.data.formats import load_dataset
    from hipbench.data.measure_truth import MeasureDataset
    from hipbench.data.stats import hip_rows, summarise, write_stats

    try:
        dataset = load_dataset(root, fmt)
        if isinstance(dataset, MeasureDataset):
            _measured_stats(dataset, out)
            return
        paths = write_stats(list(dataset), out, title=f"({dataset.name})")
    except (DatasetError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    for entry in summarise(hip_rows(list(dataset))):
        click.echo(f"{entry['side']:>5}: {entry['hips']} hips, AI {entry['ai_mean']:.1f} +/- {entry['ai_sd']:.1f} deg "
                   f"(n={entry['ai_n']}), IHDI I/II/III/IV/ungradable = {entry['grade_I']}/{entry['grade_II']}/"
                   f"{entry['grade_III']}/{entry['grade_IV']}/{entry['grade_ungradable']}")
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


def _measured_stats(dataset: Any, out: str) -> None:
    from hipbench.data.measure_stats import measured_rows, summarise_measured, summary_lines, write_measured_stats

    paths = write_measured_stats(dataset, out)
    for line in dataset.describe():
        click.echo(line)
    for line in summary_lines(summarise_measured(measured_rows(dataset))):
        click.echo(line)
    for note in dataset.notes:
        click.echo(f"note: {note}")
    for name, path in paths.items():
        click.echo(f"{name}: {path}")


@data_command.command("download")
@click.argument("source", required=False)
@click.option("--out", type=click.Path(file_okay=False), help="Directory to download into (rerun to resume).")
@click.option("--base-url", default=None, metavar="URL",
              help="Mirror replacing the source location (also $HIPBENCH_MTDDH_URL, $HIPBENCH_AV_DDH_URL). A "
                   "loopback host "
                   "(127.0.0.1, localhost) is used even under HIPBENCH_OFFLINE=1.")
@click.option("--retries", default=3, show_default=True, type=click.IntRange(min=0),
              help="Network retries per request; each resumes from the .part file.")
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(min=1, max=16),
              help="Files fetched at once (connections kept alive, one pool per host).")
@click.option("--max-wait", default=900, show_default=True, type=click.IntRange(min=0), metavar="SECONDS",
              help="Longest rate-limit wait (Retry-After, X-RateLimit-Reset) to sit out; a longer one stops the "
                   "run ('rate-limited: rerun resumes'). Waits do not use up --retries.")
@click.option("--list", "list_sources", is_flag=True, help="List the downloadable datasets, their licences and URLs.")
def download_command(source: str | None, out: str | None, base_url: str | None, retries: int, jobs: int,
                     max_wait: int, list_sources: bool) -> None:
    """Download SOURCE (mtddh, av_ddh) into --out: resumable, every file verified, licence and attribution
    written beside the data. $GITHUB_TOKEN, when set, is sent to api.github.com and raw.githubusercontent.com
    only (higher rate limits). Exit 1 when a file fails verification or a rate limit stops the run."""
    from hipbench.data.sources import SOURCES, describe

    if list_sources:
        click.echo("\n\n".join(describe(s) for s in SOURCES.values()))
        return
    if source is None or out is None:
        raise click.UsageError(f"give a SOURCE ({', '.join(sorted(SOURCES))}) and --out DIR, or --list")
    from hipbench.data.download import DownloadError, download
    from hipbench.offline import DownloadForbidden

    try:
        result = download(source, out, base_url=base_url, retries=retries, log=click.echo, jobs=jobs,
                          max_wait_s=float(max_wait))
    except KeyError as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except (DownloadForbidden, DownloadError, ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{result.fetched} file(s) downloaded, {result.skipped} already present; all verified "
               f"(commit {result.manifest.commit[:12]})")
    for line in result.summary.lines():
        click.echo(line)
    click.echo(f"licence and attribution: {', '.join(str(p) for p in result.notices)}")
    click.echo(f"next: hipbench data check {result.root}")

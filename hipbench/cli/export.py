"""``hipbench export MODEL_DIR``: a deployable model (TorchScript or ONNX) with its model card."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.argument("model_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript"]), default="onnx", show_default=True)
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the model and its model.json into.")
def export_command(model_dir: Path, fmt: str, out: Path) -> None:
    """Export the trained model in MODEL_DIR (a cell folder with model.pt and model.json) to OUT: the network
    with its normalisation and decoding as one graph, checked against PyTorch; `hipbench predict --model OUT`
    runs it."""
    from hipbench.extras import MissingExtra
    from hipbench.files import read_json
    from hipbench.runner.export import export_model

    try:
        written = export_model(model_dir, fmt, out)
    except (MissingExtra, FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    card = read_json(written / "model.json")
    click.echo(f"exported {model_dir} as {fmt}: {written / card['export']['file']} (max difference to PyTorch "
               f"{card['export']['max_difference_px']:.2g} px); model card {written / 'model.json'}")

"""The ``hipbench`` command line. Subcommands live in their own modules and load on demand.

Examples:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(main, ["--version"]).output.startswith("hipbench, version")
    True
"""

from __future__ import annotations

import importlib

import click

from hipbench import __version__

# command name -> "module:attribute"; modules import heavy libraries only inside their commands
COMMANDS: dict[str, str] = {
    "list": "hipbench.cli.plugins:list_command",
    "plugins": "hipbench.cli.plugins:plugins_command",
    "data": "hipbench.cli.data:data_command",
    "measure": "hipbench.cli.measure:measure_command",
    "run": "hipbench.cli.run:run_command",
    "leaderboard": "hipbench.cli.run:leaderboard_command",
    "status": "hipbench.cli.run:status_command",
    "predict": "hipbench.cli.predict:predict_command",
    "serve": "hipbench.cli.serve:serve_command",
    "robustness": "hipbench.cli.robustness:robustness_command",
    "tta": "hipbench.cli.tta:tta_command",
    "export": "hipbench.cli.export:export_command",
    "tune-report": "hipbench.cli.tune:tune_report_command",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hipbench")
def main() -> None:
    """hipbench: benchmark keypoint models for hip X-rays (DDH) on your own data."""

"""``hipbench list`` and ``hipbench plugins``: what the registries hold, where it comes from, and the contract
a plugin of each kind fulfils."""

from __future__ import annotations

import sys
import textwrap
from typing import Iterable

import click

from hipbench.registry import ALL_REGISTRIES, PluginError, PluginRegistry, iter_entries


def _origin(registry: PluginRegistry, name: str) -> str:
    entry = registry.entries().get(name)
    return entry.origin() if entry is not None else "registered in code"


def _backbone_details(registry: PluginRegistry, names: list[str]) -> dict[str, str]:
    """What each built-in backbone declares about itself: a preset's parameters and strides (its ``preset``
    metadata; nothing is built) or a one-line ``list_summary``."""
    details: dict[str, str] = {}
    for name in names:
        entry = registry.entries().get(name)
        if entry is None or not entry.builtin:
            continue
        try:
            target = registry.get(name)
        except PluginError:  # listed with its origin only; ``hipbench plugins --check`` says why
            continue
        preset, summary = getattr(target, "preset", None), getattr(target, "list_summary", None)
        if preset is not None:
            details[name] = (f"params {preset.params_label:>6}  strides {','.join(map(str, preset.strides))}"
                             + (f"  ({preset.note})" if preset.note else ""))
        elif summary:
            details[name] = str(summary)
    return details


@click.command("list")
@click.argument("kind", required=False, type=click.Choice(sorted(ALL_REGISTRIES)))
def list_command(kind: str | None) -> None:
    """List registered names of KIND (all kinds when omitted), one a line with its distribution."""
    kinds = [kind] if kind else list(ALL_REGISTRIES)
    for index, current in enumerate(kinds):
        registry = ALL_REGISTRIES[current]
        if kind is None:
            if index:
                click.echo()
            click.echo(f"{current}:")
        names = registry.names()
        width = max((len(n) for n in [*names, *registry.aliases]), default=0)
        prefix = "  " if kind is None else ""
        details = _backbone_details(registry, names) if current == "backbones" else {}
        origin_width = max((len(_origin(registry, n)) for n in names), default=0)
        for name in names:
            line = f"{prefix}{name.ljust(width)}  {_origin(registry, name)}"
            if details.get(name):
                line = f"{line.ljust(len(prefix) + width + 2 + origin_width)}  {details[name]}"
            click.echo(line)
        for alias, target in sorted(registry.aliases.items()):
            click.echo(f"{prefix}{alias.ljust(width)}  alias of {target}")
        if not names and kind is None:
            click.echo("  (none)")


def contracts_text(registries: Iterable[PluginRegistry], width: int = 100) -> str:
    """Each kind with its entry-point group, its contract (wrapped to ``width``) and its plugins' names.

    Examples:
        >>> reg = PluginRegistry("widgets", contract="Widgets: callables ``f(**kwargs) -> Widget``.")
        >>> print(contracts_text([reg]))
        widgets (entry-point group hipbench.widgets)
            Widgets: callables ``f(**kwargs) -> Widget``.
            plugins: (none)
    """
    def wrap(text: str) -> str:
        return textwrap.fill(text, width=width, initial_indent="    ", subsequent_indent="    ",
                             break_long_words=False, break_on_hyphens=False)

    sections = []
    for registry in registries:
        names = [name if (entry := registry.entries().get(name)) is None or entry.status in {"not loaded", "loaded"}
                 else f"{name} ({entry.status})" for name in registry.names()]
        sections.append(f"{registry.kind} (entry-point group {registry.group})\n{wrap(registry.contract)}\n"
                        f"{wrap('plugins: ' + (', '.join(names) or '(none)'))}")
    return "\n\n".join(sections)


@click.command("plugins")
@click.option("--check", is_flag=True, help="Import every plugin; exit 1 if any fails, printing why.")
@click.option("--contracts", is_flag=True,
              help="One section per kind: its contract (what a plugin of that kind provides) and its plugins.")
def plugins_command(check: bool, contracts: bool) -> None:
    """Table of every plugin: kind, name, distribution, version and load status (--contracts: each kind's
    contract instead)."""
    from tabulate import tabulate

    registries = list(ALL_REGISTRIES.values())
    if check:
        for registry in registries:
            registry.load_all()
    entries = list(iter_entries(registries))
    if contracts:
        click.echo(contracts_text(registries))
    else:
        rows = [(e.kind, e.name, e.distribution, e.version, e.status) for e in entries]
        click.echo(tabulate(rows, headers=["kind", "name", "distribution", "version", "status"]))
        click.echo("\nWhat a plugin of each kind provides: hipbench plugins --contracts")
    problems = [e for e in entries if e.status in {"failed", "conflict"}]
    for entry in problems:
        registry = ALL_REGISTRIES[entry.kind]
        try:
            registry.get(entry.name)
        except KeyError as exc:
            click.echo(f"\n{entry.status.upper()}: {exc}", err=True)
    if check and problems:
        click.echo(f"\n{len(problems)} of {len(entries)} plugins failed the check.", err=True)
        sys.exit(1)

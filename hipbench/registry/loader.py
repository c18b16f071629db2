"""Entry-point backed registries: the plugin loader behind every hipbench registry.

A :class:`PluginRegistry` is an mmengine ``Registry`` that also knows the entry points of its
group (``hipbench.<kind>``). Names are read from distribution metadata, so listing never imports a
plugin; a lookup imports only the entry point it needs. Failures are recorded per plugin and raised
only when that plugin is used.
"""

from __future__ import annotations

import difflib
import importlib.metadata as importlib_metadata
import os
import re
import types
from dataclasses import dataclass, field
from typing import Any, Iterable

from mmengine.registry import Registry

BUILTIN_DISTRIBUTION = "hipbench"
DISABLE_AUTOLOAD_ENV = "HIPBENCH_DISABLE_PLUGIN_AUTOLOAD"


def normalize_distribution(name: str) -> str:
    """Normalise a distribution name as PEP 503 does.

    Examples:
        >>> normalize_distribution("Hipbench_Example.Backbone")
        'hipbench-example-backbone'
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def autoload_disabled() -> bool:
    """Whether ``HIPBENCH_DISABLE_PLUGIN_AUTOLOAD`` turns third-party discovery off.

    Examples:
        >>> import os; os.environ.pop("HIPBENCH_DISABLE_PLUGIN_AUTOLOAD", None); autoload_disabled()
        False
    """
    return os.environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginError(KeyError):
    """Base class of registry lookup errors; a ``KeyError`` whose text prints as written."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class UnknownPluginError(PluginError):
    """A name that no built-in, plugin or in-code registration provides."""


class PluginLoadError(PluginError):
    """A plugin whose entry point failed to import or did not provide what it promised."""


class PluginConflictError(PluginError):
    """Two distributions claim one name in the same registry."""


@dataclass
class PluginEntry:
    """One entry point of a registry group, with its load state.

    ``status`` is one of ``not loaded``, ``loaded``, ``failed`` or ``conflict``.
    """

    kind: str
    name: str
    distribution: str
    version: str
    target: str
    entry_point: importlib_metadata.EntryPoint | None = field(default=None, repr=False)
    status: str = "not loaded"
    error: str = ""
    rivals: list["PluginEntry"] = field(default_factory=list, repr=False)

    @property
    def builtin(self) -> bool:
        """Whether the entry point belongs to hipbench itself."""
        return normalize_distribution(self.distribution) == BUILTIN_DISTRIBUTION

    def origin(self) -> str:
        """``distribution version`` as shown in listings and errors."""
        return f"{self.distribution} {self.version}".strip()


def _scan_group(kind: str, group: str) -> dict[str, PluginEntry]:
    """Read every entry point of ``group`` from installed metadata, without importing anything."""
    include_third_party = not autoload_disabled()
    entries: dict[str, PluginEntry] = {}
    seen: set[tuple[str, str]] = set()
    for ep in importlib_metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else "<unknown>"
        version = dist.version if dist is not None else ""
        key = (normalize_distribution(dist_name), ep.name)
        if key in seen:  # the same distribution found twice on sys.path (e.g. an egg-info in cwd)
            continue
        seen.add(key)
        entry = PluginEntry(kind, ep.name, dist_name, version, ep.value, ep)
        if not entry.builtin and not include_third_party:
            continue
        previous = entries.get(ep.name)
        if previous is None:
            entries[ep.name] = entry
            continue
        previous.status = "conflict"
        previous.rivals.append(entry)
        if entry.builtin:  # keep the built-in as the listed owner; the clash is still an error
            entry.status, entry.rivals = "conflict", [previous, *previous.rivals]
            previous.rivals = []
            entries[ep.name] = entry
    return entries


class PluginRegistry(Registry):
    """An mmengine root ``Registry`` (scope ``hipbench``) fed lazily by the entry-point group
    ``hipbench.<kind>``; the entry-point name is the registry key.

    ``aliases`` maps an old name to the name it now stands for (a renamed plugin keeps working in benchmark
    files and on the command line): a lookup resolves it, a listing shows it beside its target, and
    :meth:`names` leaves it out. A registered name always wins over an alias of the same spelling.

    Examples:
        >>> reg = PluginRegistry("widgets", contract="Callables that return widgets.")
        >>> @reg.register_module(name="square")
        ... def square(side: int = 2) -> int:
        ...     return side * side
        >>> reg.build({"type": "square", "side": 3})
        9
        >>> reg.names()
        ['square']
        >>> reg.add_alias("quad", "square"); reg.build({"type": "quad"}), reg.names(), "quad" in reg
        (4, ['square'], True)
    """

    def __init__(self, kind: str, contract: str, aliases: dict[str, str] | None = None) -> None:
        super().__init__(kind, scope=BUILTIN_DISTRIBUTION)
        self.kind = kind
        self.group = f"hipbench.{kind}"
        self.contract = contract
        self.__doc__ = contract
        self._entries: dict[str, PluginEntry] | None = None
        self.aliases: dict[str, str] = {}
        for alias, target in (aliases or {}).items():
            self.add_alias(alias, target)

    def add_alias(self, alias: str, target: str) -> None:
        """Let ``alias`` (an old name) stand for ``target``."""
        if alias == target or self.aliases.get(target) is not None:
            raise ValueError(f"{self.kind}: alias {alias!r} -> {target!r} would be a loop or a chain")
        self.aliases[alias] = target

    def resolve(self, key: str) -> str:
        """The name ``key`` stands for: itself when registered, else the target of an alias, else itself."""
        if key in self._module_dict or key in self.entries():
            return key
        return self.aliases.get(key, key)

    # discovery -----------------------------------------------------------------------------
    def entries(self) -> dict[str, PluginEntry]:
        """Entry points of this group by name, scanned once from installed metadata."""
        if self._entries is None:
            self._entries = _scan_group(self.kind, self.group)
        return self._entries

    def rescan(self) -> None:
        """Forget the scanned entry points (after installing a plugin into a running process)."""
        self._entries = None

    def names(self) -> list[str]:
        """Every known name: entry points plus in-code registrations, sorted, nothing imported."""
        return sorted(set(self.entries()) | set(self._module_dict))

    def __contains__(self, key: Any) -> bool:
        return key in self._module_dict or key in self.entries() or key in self.aliases

    def __len__(self) -> int:
        return len(self.names())

    # loading -------------------------------------------------------------------------------
    def get(self, key: Any) -> Any:  # type: ignore[override]
        """The registered object for ``key`` (a name or an alias), importing its entry point on first use.

        Raises :class:`UnknownPluginError` (with the known names and the closest match),
        :class:`PluginLoadError` or :class:`PluginConflictError`.
        """
        if not isinstance(key, str):
            raise TypeError(f"{self.kind} name must be a string, got {type(key).__name__}")
        key = self.resolve(key)
        entry = self.entries().get(key)
        if entry is not None and entry.status == "conflict":
            raise PluginConflictError(self._conflict_message(entry))
        if key in self._module_dict:
            return self._module_dict[key]
        if entry is None:
            raise UnknownPluginError(self.unknown_message(key))
        return self._load(entry)

    def load_all(self) -> list[PluginEntry]:
        """Import every entry point of this group; return the entries with their status."""
        for entry in self.entries().values():
            if entry.status == "not loaded":
                try:
                    self._load(entry)
                except PluginError:
                    pass
        return list(self.entries().values())

    def _load(self, entry: PluginEntry) -> Any:
        if entry.status == "failed":
            raise PluginLoadError(self._failure_message(entry))
        try:
            obj = entry.entry_point.load() if entry.entry_point is not None else None
        except Exception as exc:  # any import-time error of a plugin is recorded, not fatal
            entry.status, entry.error = "failed", f"{type(exc).__name__}: {exc}"
            raise PluginLoadError(self._failure_message(entry)) from exc
        if isinstance(obj, types.ModuleType):  # module entry point: it registers itself on import
            obj = self._module_dict.get(entry.name)
            if obj is None:
                entry.status = "failed"
                entry.error = f"module {entry.target!r} imported but registered no {self.kind} {entry.name!r}"
                raise PluginLoadError(self._failure_message(entry))
        elif not callable(obj):
            entry.status = "failed"
            entry.error = f"{entry.target!r} is a {type(obj).__name__}, not a class or function"
            raise PluginLoadError(self._failure_message(entry))
        elif self._module_dict.get(entry.name) is not obj:
            self._register_module(obj, entry.name, force=True)
        entry.status, entry.error = "loaded", ""
        return obj

    # messages ------------------------------------------------------------------------------
    def unknown_message(self, key: str) -> str:
        """The text of an unknown-name error: known names and the closest match."""
        known = self.names()
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.4)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        listing = ", ".join(known) if known else "(none registered)"
        return f"Unknown {self.kind} {key!r}.{hint} Known {self.kind}: {listing}."

    def _failure_message(self, entry: PluginEntry) -> str:
        return (
            f"{self.kind} plugin {entry.name!r} (entry point {entry.target!r} of distribution "
            f"{entry.origin()!r}) failed to load: {entry.error}. Fix or uninstall {entry.distribution!r}; "
            f"other plugins are unaffected."
        )

    def _conflict_message(self, entry: PluginEntry) -> str:
        owners = " and ".join(f"{e.origin()!r} ({e.target})" for e in [entry, *entry.rivals])
        return (
            f"{self.kind} name {entry.name!r} is claimed by more than one distribution: {owners}. "
            f"A plugin may not replace another's name; uninstall one or rename its entry point."
        )


def iter_entries(registries: Iterable[PluginRegistry]) -> Iterable[PluginEntry]:
    """Every entry of every registry, in registry then name order.

    Examples:
        >>> from hipbench.registry import ALL_REGISTRIES
        >>> all(e.kind in ALL_REGISTRIES for e in iter_entries(ALL_REGISTRIES.values()))
        True
    """
    for registry in registries:
        for name in sorted(registry.entries()):
            yield registry.entries()[name]

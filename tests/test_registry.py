"""The entry-point registry: lazy loading, recorded failures, clashes, autoload switch, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hipbench.registry import (
    ALL_REGISTRIES,
    BACKBONES,
    PluginConflictError,
    PluginLoadError,
    PluginRegistry,
    UnknownPluginError,
)
from tests.conftest import make_distribution

GROUP = "hipbench.widgets"


@pytest.fixture
def widgets(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> PluginRegistry:
    """A registry of a private kind whose plugins live in ``plugin_site``."""
    make_distribution(plugin_site, "widgets-good", "1.2.0", {GROUP: {"square": "widgets_good:square"}},
                      {"widgets_good": "IMPORTED = True\ndef square(side=2):\n    return side * side\n"})
    make_distribution(plugin_site, "widgets-broken", "0.0.1", {GROUP: {"cube": "widgets_broken:cube"}},
                      {"widgets_broken": "import a_module_that_does_not_exist\n"})
    monkeypatch.syspath_prepend(str(plugin_site))
    return PluginRegistry("widgets", contract="Callables returning widgets.")


def test_registries_are_root_mmengine_registries_with_contracts() -> None:
    assert set(ALL_REGISTRIES) == {"backbones", "necks", "heads", "losses", "codecs", "datasets", "metrics",
                                   "measures", "detectors", "framings", "executors"}
    for kind, registry in ALL_REGISTRIES.items():
        assert registry.scope == "hipbench" and registry.parent is None
        assert registry.group == f"hipbench.{kind}"
        assert len(registry.__doc__) > 40


def test_names_are_listed_without_importing(widgets: PluginRegistry) -> None:
    assert widgets.names() == ["cube", "square"]
    assert "widgets_good" not in sys.modules and "widgets_broken" not in sys.modules


def test_lookup_loads_only_the_needed_entry_point(widgets: PluginRegistry) -> None:
    assert widgets.build({"type": "square", "side": 4}) == 16
    assert "widgets_good" in sys.modules and "widgets_broken" not in sys.modules
    assert widgets.entries()["square"].status == "loaded"


def test_failed_plugin_is_recorded_and_raised_only_on_use(widgets: PluginRegistry) -> None:
    entries = {e.name: e for e in widgets.load_all()}
    assert entries["cube"].status == "failed"
    assert "ModuleNotFoundError" in entries["cube"].error
    assert entries["square"].status == "loaded"
    with pytest.raises(PluginLoadError) as info:
        widgets.build({"type": "cube"})
    message = str(info.value)
    assert "widgets-broken 0.0.1" in message and "a_module_that_does_not_exist" in message
    assert widgets.build({"type": "square"}) == 4


def test_an_alias_resolves_to_its_target_and_is_listed_apart(widgets: PluginRegistry) -> None:
    widgets.add_alias("quad", "square")
    assert widgets.build({"type": "quad", "side": 3}) == 9 and "quad" in widgets
    assert widgets.names() == ["cube", "square"]  # the old name is not a second plugin
    with pytest.raises(ValueError, match="loop or a chain"):
        widgets.add_alias("tetragon", "quad")


def test_the_slurm_executor_answers_to_its_old_name_submitit() -> None:
    from hipbench.registry import EXECUTORS

    assert "slurm" in EXECUTORS.names() and "submitit" not in EXECUTORS.names()
    assert EXECUTORS.get("submitit") is EXECUTORS.get("slurm")
    assert EXECUTORS.build({"type": "submitit", "cluster": "debug"}).describe() == "slurm (debug cluster)"


def test_unknown_name_lists_known_names_and_closest_match(widgets: PluginRegistry) -> None:
    with pytest.raises(UnknownPluginError) as info:
        widgets.get("sqare")
    message = str(info.value)
    assert "Did you mean 'square'?" in message and "cube, square" in message


def test_two_distributions_claiming_one_name_is_an_error_naming_both(plugin_site: Path, widgets: PluginRegistry
                                                                    ) -> None:
    make_distribution(plugin_site, "widgets-rival", "3.0", {GROUP: {"square": "widgets_rival:square"}},
                      {"widgets_rival": "def square(side=2):\n    return -1\n"})
    widgets.rescan()
    assert widgets.entries()["square"].status == "conflict"
    with pytest.raises(PluginConflictError) as info:
        widgets.build({"type": "square"})
    assert "widgets-good 1.2.0" in str(info.value) and "widgets-rival 3.0" in str(info.value)


def test_plugin_cannot_replace_a_builtin(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(plugin_site, "hipbench-impostor", "9.9", {GROUP: {"square": "impostor:square"}},
                      {"impostor": "def square(side=2):\n    return 0\n"})
    make_distribution(plugin_site / "core", "hipbench", "0.1.0", {GROUP: {"square": "core_widgets:square"}},
                      {"core_widgets": "def square(side=2):\n    return side * side\n"})
    monkeypatch.syspath_prepend(str(plugin_site / "core"))
    monkeypatch.syspath_prepend(str(plugin_site))
    registry = PluginRegistry("widgets", contract="Callables returning widgets.")
    entry = registry.entries()["square"]
    assert entry.builtin and entry.status == "conflict"
    with pytest.raises(PluginConflictError, match="hipbench-impostor 9.9"):
        registry.get("square")


def test_autoload_switch_keeps_builtins_only(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(plugin_site, "hipbench", "0.1.0", {GROUP: {"core": "core_mod:core"}},
                      {"core_mod": "def core():\n    return 'core'\n"})
    make_distribution(plugin_site, "third-party", "1.0", {GROUP: {"extra": "extra_mod:extra"}},
                      {"extra_mod": "def extra():\n    return 'extra'\n"})
    monkeypatch.syspath_prepend(str(plugin_site))
    monkeypatch.setenv("HIPBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = PluginRegistry("widgets", contract="Callables returning widgets.")
    assert registry.names() == ["core"]
    monkeypatch.delenv("HIPBENCH_DISABLE_PLUGIN_AUTOLOAD")
    registry.rescan()
    assert registry.names() == ["core", "extra"]


def test_entry_point_to_a_non_callable_fails_clearly(plugin_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_distribution(plugin_site, "odd", "1.0", {GROUP: {"number": "odd_mod:NUMBER"}},
                      {"odd_mod": "NUMBER = 3\n"})
    monkeypatch.syspath_prepend(str(plugin_site))
    registry = PluginRegistry("widgets", contract="Callables returning widgets.")
    with pytest.raises(PluginLoadError, match="not a class or function"):
        registry.get("number")


def test_builtin_registry_unknown_name_message() -> None:
    with pytest.raises(KeyError, match="Unknown backbones 'no_such_backbone'"):
        BACKBONES.get("no_such_backbone")

"""The structure the architecture page promises, read from the code with ``ast`` (``docs/architecture.py``):
no cycle between hipbench modules (at import time or through function-level imports), module-level imports that
point down the layers only, each function-level one that points up with its reason, no private name imported
across modules, no import of the built-in plugins from core, example plugins built on ``hipbench`` alone, and
one definition each of the shared constants."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope="module")
def architecture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hipbench_architecture", REPO_ROOT / "docs" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def imports(architecture: ModuleType):
    return architecture.read_imports()


def test_the_graph_reader_sees_module_and_function_level_imports(architecture: ModuleType, imports) -> None:
    assert "hipbench.runner.prepare" in imports.modules and len(imports.modules) > 50
    assert "hipbench.pipeline.detector" in imports.at_import["hipbench.runner.prepare"]
    # the run builds the leaderboard only inside a function: seen anywhere, never at import time
    assert "hipbench.leaderboard.build" in imports.anywhere["hipbench.runner.run"]
    assert "hipbench.leaderboard.build" not in imports.at_import["hipbench.runner.run"]
    graph = imports.import_time_graph()  # importing a submodule runs its package's __init__ first ...
    assert "hipbench.pipeline" in graph["hipbench.runner.prepare"]
    assert "hipbench.inference" not in graph["hipbench.inference.writers"]  # ... unless the importer is inside it
    assert "hipbench.inference.predictor" in graph["hipbench.inference.writers"]
    assert architecture.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_cycle_between_hipbench_modules_at_import_time_or_later(architecture: ModuleType, imports) -> None:
    assert architecture.cycles(imports.import_time_graph()) == []
    assert architecture.cycles(imports.full_graph()) == []


def test_module_level_imports_point_down_the_layers(architecture: ModuleType, imports) -> None:
    packages = {architecture.package_of(m) for m in imports.modules}
    placed = set(architecture.layer_index())
    assert packages <= placed, f"place {sorted(packages - placed)} in a layer of docs/architecture.py LAYERS"
    assert architecture.upward(imports.package_edges()) == []
    late = imports.late_upward()
    unexplained = [pair for pair in late if pair not in architecture.LATE_UPWARD]
    assert unexplained == [], "a function-level import points up: say why in LATE_UPWARD, or move it"
    # every reason names an import that is still there: LATE_UPWARD counts the upward imports exactly
    assert sorted(architecture.LATE_UPWARD) == late
    assert all(reason.strip() for reason in architecture.LATE_UPWARD.values())
    assert imports.private_imports() == []
    assert architecture.problems(imports) == []


def test_the_check_fails_on_an_unexplained_upward_import_a_stale_reason_a_loop_and_a_private_name(
        architecture: ModuleType, tmp_path: Path) -> None:
    package = tmp_path / "hipbench"
    for folder in ("pipeline", "runner"):
        (package / folder).mkdir(parents=True)
        (package / folder / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "pipeline" / "views.py").write_text("def f():\n    from hipbench.runner.cells import _g\n")
    (package / "runner" / "cells.py").write_text("from hipbench.pipeline import views\n\n\ndef _g():\n    pass\n")
    imports = architecture.read_imports(package)
    assert imports.late_upward() == [("pipeline.views", "runner.cells")]
    reason = {("pipeline.views", "runner.cells"): "why"}
    gone = {("runner.cells", "training.trainer"): "an import that was moved"}
    loop = "import cycle through function-level imports: hipbench.pipeline.views <-> hipbench.runner.cells"
    private = "private name imported across modules: hipbench.pipeline.views <- hipbench.runner.cells._g"
    assert architecture.problems(imports, package, reason) == [loop, private]
    assert architecture.problems(imports, package, {}) == [
        "function-level import points up without a reason in LATE_UPWARD: pipeline.views -> runner.cells",
        loop, private]
    assert architecture.problems(imports, package, reason | gone) == [
        "LATE_UPWARD gives a reason for an import that is gone: runner.cells -> training.trainer", loop, private]


def test_core_never_imports_a_plugin_at_any_level(architecture: ModuleType) -> None:
    assert architecture.plugin_imports() == []


def test_a_plugin_import_inside_a_function_fails_the_check(architecture: ModuleType, tmp_path: Path) -> None:
    package = tmp_path / "hipbench"
    (package / "runner").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "runner" / "__init__.py").write_text("")
    (package / "runner" / "late.py").write_text(
        "import importlib\n\n\ndef f():\n    from hipbench_plugins.losses.base import KeypointLoss\n"
        "    return importlib.import_module('hipbench_plugins.executors.lost'), KeypointLoss\n")
    (package / "runner" / "typed.py").write_text(
        "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import hipbench_plugins.heads\n")
    found = architecture.problems(architecture.read_imports(package), package, {})
    assert found == ["core imports the built-in plugins: hipbench.runner.late:5 hipbench_plugins.losses.base",
                     "core imports the built-in plugins: hipbench.runner.late:6 hipbench_plugins.executors.lost",
                     "core imports the built-in plugins: hipbench.runner.typed:4 hipbench_plugins.heads"]


def test_the_example_plugins_import_hipbench_only(architecture: ModuleType, tmp_path: Path) -> None:
    imports = architecture.example_imports()
    assert {path.split("/")[0] for path in imports} >= {"hipbench-example-backbone", "hipbench-example-measure",
                                                         "hipbench-example-metric", "hipbench-example-dataset"}
    for path, names in imports.items():
        roots = {name.split(".")[0] for _, name in names}
        assert "hipbench" in roots and architecture.PLUGINS not in roots, path
    assert architecture.example_problems() == []
    # the check reads every example package, at any level, and names the module that does not exist
    example = tmp_path / "hipbench-example-loss" / "hipbench_example_loss"
    example.mkdir(parents=True)
    (example / "__init__.py").write_text("from hipbench.models.loss import KeypointLoss\n\n\ndef f():\n"
                                         "    from hipbench_plugins.losses.base import KeypointLoss\n"
                                         "    from hipbench.no_such_module import x\n")
    assert architecture.example_problems(tmp_path) == [
        "hipbench-example-loss/hipbench_example_loss/__init__.py:5 an example imports "
        "hipbench_plugins.losses.base: third parties import hipbench only",
        "hipbench-example-loss/hipbench_example_loss/__init__.py:6 an example imports hipbench.no_such_module, "
        "which is no hipbench module"]


def test_the_checker_examples_hold(architecture: ModuleType) -> None:
    import doctest

    assert doctest.testmod(architecture).failed == 0


def _module_level_constants(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """``NAME = (str, ...)`` (tuple, list or set of string literals) at module level of ``path``."""
    found = []
    for node in ast.parse(path.read_text()).body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) and node.value is not None else []
        value = getattr(node, "value", None)
        if not isinstance(value, (ast.Tuple, ast.List, ast.Set)):
            continue
        items = tuple(e.value for e in value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str))
        if items and len(items) == len(value.elts):
            found += [(t.id, items) for t in targets if isinstance(t, ast.Name)]
    return found


def test_the_measure_contract_imports_no_metrics_module(imports) -> None:
    """``hipbench.metrics`` (its package imports ``evaluate``, which builds measures) depends on
    ``hipbench.measures``, never the other way, at any level: no loop through a function-level import."""
    assert not [m for m in imports.anywhere["hipbench.measures"] if m.startswith("hipbench.metrics")]
    import subprocess

    done = subprocess.run([sys.executable, "-c", "import hipbench.measures, hipbench.metrics.agreement"],
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr


def test_the_grades_are_defined_once_in_hipbench_grades() -> None:
    """``UNGRADABLE``, ``GRADES``, ``GRADE_NAMES`` and ``SCREEN_POSITIVE_FROM`` live in ``hipbench/grades.py``;
    every other module imports them (no second name for the ungradable value, no copy of the grade list)."""
    names = {"UNGRADABLE", "UNGRADED", "GRADES", "GRADE_NAMES", "SCREEN_POSITIVE_FROM"}
    copies = []
    for path in sorted([*(REPO_ROOT / "hipbench").rglob("*.py"), *(REPO_ROOT / "plugins").rglob("*.py")]):
        where = path.relative_to(REPO_ROOT).as_posix()
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            copies += [f"{where}: {t.id}" for t in targets if isinstance(t, ast.Name) and t.id in names]
    assert sorted(copies) == sorted(f"hipbench/grades.py: {n}" for n in names - {"UNGRADED"})


def test_one_definition_each_of_sides_and_image_suffixes_and_no_format_list_in_core() -> None:
    from hipbench.data.formats import dataset_formats
    from hipbench.data.images import IMAGE_SUFFIXES
    from hipbench.schema import SIDES

    owners = {"SIDES": "hipbench/schema.py", "IMAGE_SUFFIXES": "hipbench/data/images.py"}
    known_copies: set[tuple[str, str]] = set()
    copies = []
    for path in sorted([*(REPO_ROOT / "hipbench").rglob("*.py"), *(REPO_ROOT / "plugins").rglob("*.py")]):
        where = path.relative_to(REPO_ROOT).as_posix()
        for name, items in _module_level_constants(path):
            for constant, value in (("SIDES", SIDES), ("IMAGE_SUFFIXES", IMAGE_SUFFIXES)):
                same = items == tuple(value) if constant == "SIDES" else set(value) <= set(items)
                if same and where != owners[constant] and (constant, where) not in known_copies:
                    copies.append(f"{where}: {name} repeats {constant} of {owners[constant]}")
            # the formats are the DATASETS plugins (hipbench.data.formats): no core list names them
            named = set(items) & set(dataset_formats())
            if where.startswith("hipbench/") and len(named) > 1:
                copies.append(f"{where}: {name} lists the dataset formats {sorted(named)}; ask the registry")
    assert copies == []
    from hipbench.data.phantom import generate
    from hipbench.inference import choose
    from hipbench.pipeline import views

    assert choose.IMAGE_SUFFIXES is IMAGE_SUFFIXES
    assert views.SIDES is SIDES and generate.SIDES is SIDES

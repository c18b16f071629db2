"""hipbench's layers read from its code, checked, and drawn into ``docs/architecture.png``.

Walks the ``import`` statements of every ``hipbench`` module with ``ast`` (nothing is imported), builds the
module graph of what runs at import time (module level, not under ``if TYPE_CHECKING``, plus the packages
whose ``__init__`` an import runs) and the package graph of all imports, then checks that

- no module-level import points up the layers of :data:`LAYERS` (the layer order of ``docs/ARCHITECTURE.md``),
- function-level imports point up only where :data:`LATE_UPWARD` says why, one reason per module pair (and no
  reason outlives its import),
- no cycle joins two modules, at import time or through function-level imports,
- no module imports another's private (underscore) names,
- no ``hipbench`` module imports ``hipbench_plugins``, at any level (core reaches the built-in plugins through
  the registries' entry points), and the third-party examples (``examples/hipbench-example-*``) import
  ``hipbench`` only, never ``hipbench_plugins``.

The contract classes each package owns are read from the registries' contract texts.
``tests/test_architecture.py`` runs the same checks.

    .venv/bin/python docs/architecture.py          # check, and redraw docs/architecture.png
"""

from __future__ import annotations

import ast
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "hipbench"
EXAMPLES = REPO / "examples"  # hipbench-example-*: third-party plugin packages, built on hipbench alone
PLUGINS = "hipbench_plugins"  # plugins/ as installed: core reaches it through entry points only
DYNAMIC_IMPORTS = ("importlib.import_module", "import_module", "__import__")

# top to bottom; a module imports at module level only from its own layer or below
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("interface", ("cli", "serve", "__main__")),
    ("inference", ("inference",)),
    ("gather", ("leaderboard", "robustness")),
    ("run", ("runner",)),
    ("training", ("training", "tuning")),
    ("views", ("pipeline",)),
    ("models", ("models",)),
    ("definitions", ("metrics", "measures", "geometry", "data", "imaging", "schema")),
    ("registries", ("registry",)),
    ("base", ("offline", "extras", "files", "figures", "grades", "hipbench")),  # ``hipbench``: the package's own __init__ (the version)
)
# every function-level import that points up, one entry per (importer, imported) module pair (without the
# ``hipbench.`` prefix), and why it waits until the call; the check fails on an unexplained one and on a reason
# whose import is gone, so the count here is the count in the code
LATE_UPWARD: dict[tuple[str, str], str] = {
    ("runner.config", "robustness.perturbations"): "a benchmark's robustness: block names known perturbations",
    ("runner.run", "leaderboard.build"): "the run's last stage (gather) builds the leaderboard",
    ("runner.run", "robustness.suite"): "the gather stage runs the robustness suite a benchmark asks for",
}
CAPTIONS = {
    "cli": "one module per subcommand", "leaderboard": "tables, statistics, plots from stored results",
    "runner": "plan, prepare, cells, claims, status", "training": "Trainer, augmentation, baseline",
    "pipeline": "views, framings, detectors, misses, overlay",
    "inference": "choose a run's cell, predictor, fold ensemble, writers", "models": "keypoint model, weights",
    "metrics": "NME, MRE, SDR, ICC", "measures": "hip measures by role",
    "geometry": "AI, IHDI", "grades": "UNGRADABLE, I-IV", "data": "loaders, splits, phantom",
    "schema": "landmark schemas",
    "imaging": "image operations", "robustness": "perturbation suites over trained cells",
    "registry": "registries, lazy entry points (looked up inside functions)", "offline": "download policy",
    "extras": "optional packages, pip hint", "files": "atomic writes, JSON", "figures": "headless pyplot, PNG",
    "hipbench": "version",
    "__main__": "python -m hipbench", "serve": "local web app: runs, measure, review",
}
# x centre of a layer's only box: alternating, so that arrows skipping a layer pass beside its box
LONE_X = {"inference": 0.5, "leaderboard": 0.64, "runner": 0.34, "training": 0.64, "pipeline": 0.34, "models": 0.64, "registry": 0.5}


def _short(module: str) -> str:
    return module.removeprefix("hipbench.")


def package_of(module: str) -> str:
    """The top-level part of ``hipbench`` a module belongs to (``hipbench`` for the package itself).

    Examples:
        >>> package_of("hipbench.runner.cell"), package_of("hipbench.schema"), package_of("hipbench")
        ('runner', 'schema', 'hipbench')
    """
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "hipbench"


def layer_index() -> dict[str, int]:
    """Package -> its layer's position, 0 at the top."""
    return {package: i for i, (_, packages) in enumerate(LAYERS) for package in packages}


def find_modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package at ``root``."""
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_type_checking(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _targets(node: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The package modules an import statement names (``from a import b`` names ``a`` and, if a module, ``a.b``)."""
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        if node.level:
            base = module.split(".")[: None if is_package else -1]
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        names = [source] + [f"{source}.{alias.name}" for alias in node.names]
    return {name for name in names if name in modules}


@dataclass
class Imports:
    """Every module's imports of other package modules, split by when they run."""

    modules: dict[str, Path]
    at_import: dict[str, set[str]]  # module level (what importing the module runs)
    anywhere: dict[str, set[str]]  # module level and inside functions

    def import_time_graph(self) -> dict[str, set[str]]:
        """``at_import`` plus the packages whose ``__init__`` such an import runs first (not the importer's own)."""
        graph = {module: set(targets) for module, targets in self.at_import.items()}
        for module, targets in self.at_import.items():
            for target in targets:
                parts = target.split(".")
                for end in range(1, len(parts)):
                    parent = ".".join(parts[:end])
                    if parent in self.modules and not (module == parent or module.startswith(parent + ".")):
                        graph[module].add(parent)
        return graph

    def full_graph(self) -> dict[str, set[str]]:
        """Every import between two modules, module and function level: where data can double back, whenever the
        import runs."""
        return {module: set(targets) for module, targets in self.anywhere.items()}

    def late_upward(self) -> list[tuple[str, str]]:
        """(importer, imported) module pairs, without the ``hipbench.`` prefix, that only a function-level import
        joins and that point up :data:`LAYERS` (``KeyError`` for a package in no layer)."""
        pairs = [(module, target) for module, targets in self.anywhere.items()
                 for target in targets - self.at_import[module] if package_of(module) != package_of(target)]
        up = set(upward({(package_of(a), package_of(b)) for a, b in pairs}))
        return sorted((_short(a), _short(b)) for a, b in pairs if (package_of(a), package_of(b)) in up)

    def private_imports(self) -> list[str]:
        """``importer <- module._name``: underscore names one module imports from another (a name a module keeps
        to itself is no one else's to import)."""
        found = []
        for module, path in self.modules.items():
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    found += [f"{module} <- {node.module}.{alias.name}" for alias in node.names
                              if alias.name.startswith("_") and not alias.name.endswith("__")
                              and node.module in self.modules
                              and node.module != module]
        return sorted(found)

    def package_edges(self, late: bool = False) -> set[tuple[str, str]]:
        """Package pairs joined by a module-level import (``late``: by a function-level import only)."""
        edges: set[tuple[str, str]] = set()
        for module, targets in self.anywhere.items():
            for target in targets:
                pair = (package_of(module), package_of(target))
                if pair[0] != pair[1] and (target not in self.at_import[module]) == late:
                    edges.add(pair)
        if late:
            edges -= self.package_edges(late=False)
        return edges


def read_imports(root: Path = PACKAGE) -> Imports:
    """The imports of every module under ``root``, parsed, never executed."""
    modules = find_modules(root)
    at_import: dict[str, set[str]] = defaultdict(set)
    anywhere: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            anywhere[module] |= _targets(node, module, is_package, modules) - {module}

        def visit(body: list[ast.stmt]) -> None:
            for node in body:
                if _is_type_checking(node):
                    continue
                if isinstance(node, (ast.If, ast.Try, ast.With)):  # their bodies run at import time too
                    visit(node.body)
                    visit(getattr(node, "orelse", []))
                    visit(getattr(node, "finalbody", []))
                    for handler in getattr(node, "handlers", []):
                        visit(handler.body)
                at_import[module] |= _targets(node, module, is_package, modules) - {module}

        visit(tree.body)
    return Imports(modules, {m: at_import[m] for m in modules}, {m: anywhere[m] for m in modules})


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one node (and self-loops), each sorted (Tarjan, iterative).

    Examples:
        >>> cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}, "d": {"d"}})
        [['a', 'b'], ['d']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in graph.get(node, ()):
                    found.append(sorted(group))
    return sorted(found)


def _imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) of every import anywhere in ``tree`` (module level, functions, ``TYPE_CHECKING``),
    ``importlib.import_module("...")`` and ``__import__("...")`` of a constant included; relative imports
    left out (they stay inside their own package)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found += [(node.lineno, node.module or "")]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str) and ast.unparse(node.func) in DYNAMIC_IMPORTS:
            found += [(node.lineno, node.args[0].value)]
    return sorted(found)


def plugin_imports(root: Path = PACKAGE) -> list[str]:
    """``module:line name`` of every import of ``hipbench_plugins`` under ``root``, at any level: core reaches
    the built-in plugins only through the registries' entry points.

    Examples:
        >>> import tempfile; pkg = Path(tempfile.mkdtemp()) / "hipbench"; pkg.mkdir()
        >>> _ = (pkg / "a.py").write_text("def f():\\n    from hipbench_plugins.heads import x\\n")
        >>> plugin_imports(pkg)
        ['hipbench.a:2 hipbench_plugins.heads']
    """
    return [f"{module}:{line} {name}" for module, path in find_modules(root).items()
            for line, name in _imported_names(ast.parse(path.read_text(), filename=str(path)))
            if name.split(".")[0] == PLUGINS]


def example_imports(root: Path = EXAMPLES) -> dict[str, list[tuple[int, str]]]:
    """Each example plugin package's file (relative to ``root``) -> (line, name) of its absolute imports."""
    return {path.relative_to(root).as_posix(): _imported_names(ast.parse(path.read_text(), filename=str(path)))
            for path in sorted(root.glob("hipbench-example-*/**/*.py"))}


def example_problems(root: Path = EXAMPLES, package: Path = PACKAGE) -> list[str]:
    """Imports of the third-party examples that reach past ``hipbench``: of ``hipbench_plugins`` (a third party
    builds on core's contracts only) or of a ``hipbench`` module that does not exist."""
    modules = find_modules(package)
    found = []
    for where, names in example_imports(root).items():
        for line, name in names:
            if name.split(".")[0] == PLUGINS:
                found.append(f"{where}:{line} an example imports {name}: third parties import hipbench only")
            elif name.split(".")[0] == "hipbench" and name not in modules:
                found.append(f"{where}:{line} an example imports {name}, which is no hipbench module")
    return found


def upward(edges: set[tuple[str, str]]) -> list[tuple[str, str]]:
    """The package pairs of ``edges`` that point up :data:`LAYERS` (``KeyError`` for a package in no layer)."""
    rank = layer_index()
    unplaced = sorted({p for edge in edges for p in edge if p not in rank})
    if unplaced:
        raise KeyError(f"packages in no layer of docs/architecture.py LAYERS: {', '.join(unplaced)}")
    return sorted((a, b) for a, b in edges if rank[a] > rank[b])


def problems(imports: Imports, root: Path = PACKAGE,
             reasons: dict[tuple[str, str], str] | None = None) -> list[str]:
    """Everything that breaks the layering: upward module-level imports, function-level ones without a reason in
    ``reasons`` (default :data:`LATE_UPWARD`) and reasons whose import is gone, cycles (import-time, then through
    function-level imports too), private names imported across modules, imports of ``hipbench_plugins``
    (``root``: the package ``imports`` was read from)."""
    reasons = LATE_UPWARD if reasons is None else reasons
    late = imports.late_upward()
    found = [f"module-level import points up: {a} -> {b}" for a, b in upward(imports.package_edges())]
    found += [f"function-level import points up without a reason in LATE_UPWARD: {a} -> {b}"
              for a, b in late if (a, b) not in reasons]
    found += [f"LATE_UPWARD gives a reason for an import that is gone: {a} -> {b}"
              for a, b in sorted(reasons) if (a, b) not in late]
    at_import = cycles(imports.import_time_graph())
    found += [f"import-time cycle: {' <-> '.join(group)}" for group in at_import]
    found += [f"import cycle through function-level imports: {' <-> '.join(group)}"
              for group in cycles(imports.full_graph()) if group not in at_import]
    found += [f"private name imported across modules: {where}" for where in imports.private_imports()]
    found += [f"core imports the built-in plugins: {where}" for where in plugin_imports(root)]
    return found


def contracts() -> dict[str, list[str]]:
    """Package -> the contract classes that the registries' contract texts name in it."""
    sys.path.insert(0, str(REPO))
    from hipbench.registry import ALL_REGISTRIES

    owned: dict[str, list[str]] = defaultdict(list)
    for registry in ALL_REGISTRIES.values():
        for path in re.findall(r"hipbench(?:\.\w+)+", registry.contract):
            name = path.rsplit(".", 1)[-1]
            if name[:1].isupper() and name not in owned[package_of(path)]:
                owned[package_of(path)].append(name)
    return dict(owned)


STAGES = (  # (stage, modules, what it reads -> writes)
    ("1 plan", "runner/run.py, config.py, hashing.py", "YAML -> cells (combination x fold), hashes"),
    ("2 prepare", "runner/prepare.py, pipeline/framing, detector", "dataset, split, detector, views -> prepared/"),
    ("3 cells", "runner/tasks.py, cell.py + an executor", "prepared/ -> cells/KEY/foldN/result.json, model.pt"),
    ("4 gather", "leaderboard/build.py, render.py, plots.py", "results -> leaderboard.md/csv/html, plots"),
    ("predict", "inference/: choose, predictor, ensemble, writers", "a trained cell + new images -> JSON, overlays"),
)


def draw(imports: Imports, out: Path) -> None:
    """The layer graph (left) and the run's stages around the run directory (right), into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    owned = contracts()
    fig = plt.figure(figsize=(17, 10.5), dpi=110)
    left = fig.add_axes((0.01, 0.06, 0.60, 0.88))
    right = fig.add_axes((0.63, 0.06, 0.36, 0.88))
    for ax in (left, right):
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.axis("off")
    fig.suptitle("hipbench: layers (module-level imports point down) and a run's stages", fontsize=15, y=0.985)

    band = 0.92 / len(LAYERS)
    centres: dict[str, tuple[float, float]] = {}
    sizes: dict[str, tuple[float, float]] = {}
    for i, (layer, packages) in enumerate(LAYERS):
        top = 0.97 - i * band
        left.add_patch(FancyBboxPatch((0.0, top - band + 0.006), 1.0, band - 0.012, zorder=0, edgecolor="none",
                                      boxstyle="round,pad=0,rounding_size=0.01",
                                      facecolor="#f4f6fa" if i % 2 else "#e9eef6"))
        left.text(0.012, top - band / 2, layer, rotation=90, va="center", ha="center", fontsize=9, color="#55606e")
        width = min(0.9 / len(packages), 0.36)
        gap = (0.94 - width * len(packages)) / (len(packages) + 1)
        for j, package in enumerate(packages):
            x = LONE_X[package] - width / 2 if len(packages) == 1 and package in LONE_X else \
                0.04 + gap + j * (width + gap)
            y, h = top - band + 0.016, band - 0.032
            left.add_patch(FancyBboxPatch((x, y), width, h, boxstyle="round,pad=0,rounding_size=0.012",
                                          facecolor="white", edgecolor="#3b5b8c", linewidth=1.3, zorder=2))
            name = package + ("/" if (PACKAGE / package).is_dir() else ".py" if package != "hipbench" else "/__init__")
            left.text(x + width / 2, y + h * 0.70, name, ha="center", va="center", fontsize=10.5, weight="bold",
                      zorder=3)
            caption = CAPTIONS.get(package, "")
            if owned.get(package):
                caption = f"{caption}\ncontracts: {', '.join(owned[package])}" if caption else \
                    f"contracts: {', '.join(owned[package])}"
            # at 7.6 pt a box 0.15 wide holds about 25 characters a line: longer captions shrink to fit
            room = 1250 * width / max(len(line) for line in caption.split("\n") or [""]) if caption else 7.6
            left.text(x + width / 2, y + h * 0.30, caption, ha="center", va="center", fontsize=min(7.6, room),
                      color="#333", zorder=3, linespacing=1.15)
            centres[package] = (x + width / 2, y + h / 2)
            sizes[package] = (width, h)

    interface = LAYERS[0][1]  # it imports whatever it drives: its arrows would hide the rest
    drawn = [(a, b, "-") for a, b in sorted(imports.package_edges()) if a not in interface]
    drawn += [(a, b, "--") for a, b in upward(imports.package_edges(late=True))]

    def edges_of(a: str, b: str) -> tuple[str, str]:
        """The box edges an arrow a -> b joins: bottom to top going down, top to bottom going up, and bottom to
        bottom within a layer."""
        ya, yb = centres[a][1], centres[b][1]
        if abs(ya - yb) <= 1e-6:
            return "bottom", "bottom"
        return ("bottom", "top") if ya > yb else ("top", "bottom")

    ports: dict[tuple[str, str], list[tuple[float, str, str]]] = defaultdict(list)  # (box, edge) -> arrows there
    for a, b, _ in drawn:
        edge_a, edge_b = edges_of(a, b)
        ports[(a, edge_a)].append((centres[b][0], a, b))  # ordered by where the other end is: fewer crossings
        ports[(b, edge_b)].append((centres[a][0], a, b))
    where: dict[tuple[str, str, str], tuple[float, float]] = {}  # (box, a, b) -> point on that box's edge
    for (box, edge), attached in ports.items():
        (cx, cy), (w, h) = centres[box], sizes[box]
        y = cy - h / 2 if edge == "bottom" else cy + h / 2
        for k, (_, a, b) in enumerate(sorted(attached)):
            where[(box, a, b)] = (cx - w * 0.4 + w * 0.8 * (k + 1) / (len(attached) + 1), y)
    for a, b, style in drawn:
        same_layer = abs(centres[a][1] - centres[b][1]) <= 1e-6
        # arc3 bends a left-to-right arrow below its chord for positive rad: same-layer arrows dip just under the
        # row (a fixed depth, whatever their length)
        dx = centres[b][0] - centres[a][0]
        rad = (0.05 / dx if same_layer else 0.0 if style == "-" else -0.2)
        left.add_patch(FancyArrowPatch(where[(a, a, b)], where[(b, a, b)], arrowstyle="-|>", mutation_scale=9,
                                       linestyle=style, color="#7d8da6" if style == "-" else "#d0661c",
                                       linewidth=0.9 if style == "-" else 1.2, alpha=0.85,
                                       connectionstyle=f"arc3,rad={rad}", zorder=1 if style == "-" else 4))
    left.text(0.5, 0.0, "grey: module-level imports (the interface's left out)    orange dashed: function-level "
              "imports that point up (reasons in docs/architecture.py)\nplugins/ (installed as hipbench_plugins) "
              "implements the contracts and registers through entry points; core never imports it",
              ha="center", va="bottom", fontsize=8.5, color="#444")

    # stages around the run directory
    right.text(0.5, 0.975, "hipbench run FILE", ha="center", va="top", fontsize=12, weight="bold")
    rows = len(STAGES)
    for k, (stage, where, flow) in enumerate(STAGES):
        y = 0.86 - k * 0.8 / rows
        colour = "#fff4e6" if stage == "predict" else "#eef5ea"
        right.add_patch(FancyBboxPatch((0.02, y - 0.055), 0.96, 0.11, boxstyle="round,pad=0,rounding_size=0.02",
                                       facecolor=colour, edgecolor="#5b7f4a" if stage != "predict" else "#c0792b",
                                       linewidth=1.2))
        right.text(0.05, y + 0.022, stage, fontsize=11, weight="bold", va="center")
        right.text(0.05, y - 0.018, where, fontsize=8.3, va="center", color="#333")
        right.text(0.97, y + 0.022, flow, fontsize=8.3, va="center", ha="right", color="#225")
        if k < rows - 2:
            right.add_patch(FancyArrowPatch((0.5, y - 0.056), (0.5, y - 0.8 / rows + 0.056), arrowstyle="-|>",
                                            mutation_scale=12, color="#5b7f4a"))
    right.text(0.5, 0.015, "the stages meet only through the run directory:\nrun.json, "
               "prepared/<dataset>[@<framing>]/, cells/<key>/fold<i>/, leaderboard.*", ha="center", va="bottom",
               fontsize=8.8, color="#444")
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)


def main() -> int:
    imports = read_imports()
    found = problems(imports) + example_problems()
    for line in found:
        print(line, file=sys.stderr)
    out = REPO / "docs" / "architecture.png"
    draw(imports, out)
    print(f"{len(imports.modules)} modules; {len(imports.late_upward())} function-level imports point up, "
          f"{len(LATE_UPWARD)} reasons; {len(found)} problem(s); wrote {out.relative_to(REPO)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

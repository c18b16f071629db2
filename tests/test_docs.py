"""The documentation holds together: the site's navigation, the links of every page, a short README that starts
with the two commands, the references that name code (CLI, API, benchmark keys) and the generated leaderboard
pages. Fast: nothing here builds the site or imports torch (``make docs`` builds it with ``--strict``)."""

from __future__ import annotations

import ast
import configparser
import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MKDOCS = ROOT / "mkdocs.yml"

LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HTML_SRC = re.compile(r"""<(?:img|a)\b[^>]*?\b(?:src|href)=["']([^"']+)["']""")
EXTERNAL = re.compile(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", re.IGNORECASE)


def pages() -> list[Path]:
    return sorted(DOCS.rglob("*.md"))


def prose(text: str) -> str:
    """``text`` without fenced code blocks and inline code, where link-like text is not a link."""
    text = re.sub(r"^(```|~~~).*?^\1[^\n]*$", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def relative_links(path: Path) -> list[str]:
    """Relative link targets of a Markdown file (Markdown links and images, HTML src/href), anchors dropped."""
    text = prose(path.read_text())
    found = LINK.findall(text) + HTML_SRC.findall(text)
    targets = []
    for target in found:
        if EXTERNAL.match(target):
            continue
        target = target.split("#", 1)[0].split("?", 1)[0]
        if target:
            targets.append(target)
    return targets


def nav_files(node) -> list[str]:
    """Every page path named in an mkdocs ``nav`` (nested lists and single-key mappings)."""
    if isinstance(node, str):
        return [] if EXTERNAL.match(node) else [node]
    if isinstance(node, list):
        return [p for item in node for p in nav_files(item)]
    if isinstance(node, dict):
        return [p for value in node.values() for p in nav_files(value)]
    return []


def mkdocs_config() -> dict:
    return yaml.safe_load(MKDOCS.read_text())


def test_every_nav_entry_exists():
    config = mkdocs_config()
    assert config.get("docs_dir", "docs") == "docs"
    entries = nav_files(config["nav"])
    assert len(entries) >= 20, entries
    missing = [entry for entry in entries if not (DOCS / entry).is_file()]
    assert not missing, f"mkdocs.yml nav names pages that do not exist under docs/: {missing}"
    assert len(entries) == len(set(entries)), "a page is listed twice in the nav"


def test_every_page_is_in_the_nav():
    listed = set(nav_files(mkdocs_config()["nav"]))
    pages_found = {p.relative_to(DOCS).as_posix() for p in pages()}
    assert not pages_found - listed, f"add these pages to the nav of mkdocs.yml: {sorted(pages_found - listed)}"


@pytest.mark.parametrize("path", [README, *pages()], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_relative_links_point_at_existing_files(path: Path):
    broken = [t for t in relative_links(path) if not (path.parent / t).exists()]
    assert not broken, f"{path.relative_to(ROOT)} links to files that do not exist: {broken}"


@pytest.mark.parametrize("path", pages(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pages_link_only_inside_docs(path: Path):
    """The site serves only docs/: a link from a page to a repository file outside it would be broken there
    (and fail ``mkdocs build --strict``). Name such files as code instead."""
    outside = [t for t in relative_links(path) if DOCS.resolve() not in (path.parent / t).resolve().parents]
    assert not outside, f"{path.relative_to(ROOT)} links outside docs/: {outside}"


def test_readme_is_short_and_starts_with_the_two_commands():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/ (at most 200)"
    head = "\n".join(lines[:40])
    assert "make demo" in head and "make test" in head


def test_cli_reference_names_the_click_group_and_every_command():
    text = (DOCS / "reference" / "cli.md").read_text()
    module = re.search(r":module:\s*(\S+)", text).group(1)
    command = re.search(r":command:\s*(\S+)", text).group(1)
    source = Path(importlib.util.find_spec(module).origin).read_text()
    tree = ast.parse(source)
    assert any(isinstance(n, ast.FunctionDef) and n.name == command for n in tree.body), (module, command)
    commands = next(ast.literal_eval(n.value) for n in tree.body
                    if isinstance(n, ast.AnnAssign) and getattr(n.target, "id", None) == "COMMANDS")
    missing = [name for name in commands if f"hipbench {name}" not in text]
    assert not missing, f"docs/reference/cli.md does not mention: {missing}"


def test_api_reference_names_existing_modules():
    text = (DOCS / "reference" / "api.md").read_text()
    modules = re.findall(r"^::: (hipbench[\w.]*)\s*$", text, flags=re.MULTILINE)
    assert len(modules) >= 10
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    assert not missing, f"docs/reference/api.md names modules that do not exist: {missing}"


def test_benchmark_file_reference_covers_every_top_level_key():
    tree = ast.parse((ROOT / "hipbench" / "runner" / "config.py").read_text())
    keys = next(ast.literal_eval(n.value) for n in tree.body
                if isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "TOP_LEVEL_KEYS" for t in n.targets))
    text = (DOCS / "reference" / "benchmark-file.md").read_text()
    missing = [key for key in keys if f"### `{key}`" not in text]
    assert not missing, f"docs/reference/benchmark-file.md has no section for: {missing}"


def test_docs_extra_has_the_site_tools():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    docs = config["options.extras_require"]["docs"]
    for package in ("mkdocs-material", "mkdocs-click", "mkdocstrings[python]"):
        assert package in docs, package
    plugins = [p if isinstance(p, str) else next(iter(p)) for p in mkdocs_config()["plugins"]]
    assert "mkdocstrings" in plugins
    assert "mkdocs-click" in mkdocs_config()["markdown_extensions"]


def test_leaderboard_pages_are_current():
    sys.path.insert(0, str(DOCS))
    try:
        import gen_leaderboards
    finally:
        sys.path.remove(str(DOCS))
    pages_expected = gen_leaderboards.generate()
    assert {p.stem for p in pages_expected if p.suffix == ".md"} >= {"index", "quick", "heads"}
    stale = gen_leaderboards.stale(pages_expected)
    assert not stale, f"run `python docs/gen_leaderboards.py`: out of date: {[str(p) for p in stale]}"


def test_the_site_shows_screenshots_of_itself_taken_by_the_script() -> None:
    from docs.screenshots import PAGES

    index = (DOCS / "index.md").read_text()
    for page, name in PAGES.items():
        shot = DOCS / "site_screenshots" / name
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
        assert f"site_screenshots/{name}" in index
        assert (DOCS / page.replace(".html", ".md")).exists(), page

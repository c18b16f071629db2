"""Write the documentation's leaderboard pages from the committed leaderboards.

For every folder ``leaderboard/<name>/`` with a ``leaderboard.md``, this writes ``docs/leaderboards/<name>.md``:
a short introduction (the folder's row of ``leaderboard/README.md``: command, machine, wall time) and the
folder's compact leaderboard, copied as it is. ``docs/leaderboards/index.md`` gets ``leaderboard/README.md``
itself and a link to each page. Nothing is typed in by hand, so the pages say exactly what the committed
files say.

Links inside a leaderboard point at files of its folder (plots), which live outside ``docs/`` and so cannot be
served by the site; they become the file's path in the repository. A folder's robustness heat map
(``robustness/heatmap.png``, written by ``hipbench robustness``) is copied beside its page and shown on it.

Usage (from the repository root)::

    python docs/gen_leaderboards.py          # (re)write docs/leaderboards/
    python docs/gen_leaderboards.py --check  # exit 1 when a page differs from what the files give

``make docs`` runs it before building the site; ``tests/test_docs.py`` checks that the committed pages are
current.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "leaderboard"
TARGET = ROOT / "docs" / "leaderboards"
NOTICE = "<!-- written by docs/gen_leaderboards.py from {source}; edit that file and rerun the script -->"
LINK = re.compile(r"(!?)\[([^\]]*)\]\(([^)\s]+)\)")


def folders(source: Path = SOURCE) -> list[Path]:
    """The leaderboard folders, sorted by name."""
    return sorted(p.parent for p in source.glob("*/leaderboard.md"))


def readme_rows(name: str, readme: str) -> list[str]:
    """The rows of the table in ``leaderboard/README.md`` whose first cell is this folder or a path in it."""
    lines = readme.splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("| folder |")), None)
    if header is None:
        return []
    rows = []
    for line in lines[header + 2:]:
        if not line.startswith("|"):
            break
        first = line.split("|")[1].strip()
        if first.startswith(f"`{name}/"):
            rows.append(line)
    return lines[header:header + 2] + rows if rows else []


def unlink(text: str, folder: Path) -> str:
    """Relative links of a leaderboard become the file's path in the repository (the site serves only docs/)."""

    def replace(match: re.Match) -> str:
        bang, label, target = match.groups()
        if re.match(r"^[a-z]+:", target) or target.startswith("#"):
            return match.group(0)
        path = (folder / target).relative_to(ROOT).as_posix()
        return f"{label or 'file'}: `{path}`" if bang else f"{label} (`{path}`)"

    return LINK.sub(replace, text)


def heatmap(folder: Path) -> Path | None:
    """The robustness heat map of a leaderboard folder, when it has one."""
    path = folder / "robustness" / "heatmap.png"
    return path if path.is_file() else None


def page(folder: Path, readme: str) -> str:
    """The page of one leaderboard folder."""
    name = folder.name
    source = folder.relative_to(ROOT).as_posix()
    body = (folder / "leaderboard.md").read_text().splitlines()
    title = body[0].lstrip("# ").strip() if body and body[0].startswith("# ") else f"Leaderboard: {name}"
    rest = "\n".join(body[1:] if body and body[0].startswith("# ") else body).strip("\n")
    parts = [NOTICE.format(source=f"{source}/leaderboard.md"), "", f"# {title}", "",
             f"The compact leaderboard committed in `{source}/`: the output of one `hipbench run`, exported with "
             f"`hipbench leaderboard RUN --export DIR` (no weights). `hipbench leaderboard {source}` rebuilds it "
             f"from those files alone; `{source}/leaderboard_all.md`, `leaderboard.csv` and `leaderboard.html` "
             "have every column, and `plots/` and `records/` the plots and per-hip records."]
    rows = readme_rows(name, readme)
    if rows:
        parts += ["", "How it was made (from `leaderboard/README.md`):", "", *rows]
    parts += ["", unlink(rest, folder), ""]
    if heatmap(folder) is not None:
        parts += ["## Robustness", "",
                  f"`hipbench robustness` over the same trained cells (`{source}/robustness/`: `robustness.csv`, "
                  "`summary.json`, per-row curves); the heat map, copied here from "
                  f"`{source}/robustness/heatmap.png`:", "",
                  f"![robustness heat map of {name}]({name}/robustness_heatmap.png)", ""]
    return "\n".join(parts)


def index(names: list[str], readme: str) -> str:
    """The leaderboards' index page: ``leaderboard/README.md`` and a link to each page."""
    lines = readme.strip("\n").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    links = [f"- [{name}]({name}.md)" for name in names]
    text = "\n".join([NOTICE.format(source="leaderboard/README.md"), "", "# Leaderboards", "",
                      "One page per folder of `leaderboard/` in the repository:", "", *links, "", *lines, ""])
    return text.replace("\n\n\n", "\n\n")


def generate(source: Path = SOURCE) -> dict[Path, str | bytes]:
    """Every page (text) and copied image (bytes) this script writes, by path."""
    readme_path = source / "README.md"
    readme = readme_path.read_text() if readme_path.is_file() else ""
    found = folders(source)
    pages = {TARGET / f"{folder.name}.md": page(folder, readme) for folder in found}
    pages[TARGET / "index.md"] = index([folder.name for folder in found], readme)
    for folder in found:
        image = heatmap(folder)
        if image is not None:
            pages[TARGET / folder.name / "robustness_heatmap.png"] = image.read_bytes()
    return pages


def stale(pages: dict[Path, str | bytes]) -> list[Path]:
    """Files that are missing or differ from what the leaderboards give."""
    return [path for path, data in pages.items() if not path.is_file()
            or path.read_bytes() != (data.encode() if isinstance(data, str) else data)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a page is out of date; write nothing")
    args = parser.parse_args(argv)
    pages = generate()
    if args.check:
        old = stale(pages)
        for path in old:
            print(f"out of date: {path.relative_to(ROOT)} (run python docs/gen_leaderboards.py)")
        return 1 if old else 0
    for path, data in pages.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

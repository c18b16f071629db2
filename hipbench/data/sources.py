"""Registry of downloadable datasets: where each one lives, its licence, and how its files map onto the
local layout hipbench reads. The records are data, in ``sources.yaml`` beside this module;
:mod:`hipbench.data.download` does the fetching.

``mtddh``: the MTDDH pediatric AP-pelvis radiographs with 8 expert landmarks (CC BY 4.0; MTDDH, Scientific
Data 2025, doi:10.1038/s41597-025-05146-x), as converted to Ultralytics YOLO-pose labels, with an official
train/val/test split, by The Open Hip Dysplasia Dataset (radoss-org, doi:10.5281/zenodo.15086603). Files
come from the folder ``mtddh_xray_2d/`` of the GitHub repository ``radoss-org/open-hip-dysplasia``:

- listing: ``https://api.github.com/repos/radoss-org/open-hip-dysplasia/commits/main`` (the commit), then
  ``.../git/trees/<sha>`` and ``.../git/trees/<sha>?recursive=1``: every file's path, size and git blob
  SHA-1, so each downloaded file is verified;
- files: ``https://raw.githubusercontent.com/radoss-org/open-hip-dysplasia/<commit>/mtddh_xray_2d/<path>``
  (``https://media.githubusercontent.com/media/...`` for a file stored in Git LFS, checked by its SHA-256).

``av_ddh``: AV-DDH, 2,417 paediatric pelvis radiographs with the acetabular index measured by hand on each hip
and no landmarks (CC BY 4.0; Haddad B. et al., "Acetabular-vision hip developmental dysplasia's (AV-DDH)",
Mendeley Data V2, doi:10.17632/4gvcb6gmh2.2), from the folder ``av_ddh_xray/`` of the same repository:
``data.xlsx`` (one row per image: ``File Number``, ``Rt``/``Lt Acetabular Index in Degrees``, ``DDH``) and
``raw/<File Number>.jpg|png``, kept in that layout for the ``av_ddh`` dataset (measure-level truth for
``test_datasets:``; see :mod:`hipbench.data.measure_truth`).

These URLs come from the public repository as indexed when this module was written; the machine it was
built on has no internet access, so they were not tried live. The Zenodo record of the same DOI archives
the whole multi-dataset repository as release zips (only a per-archive MD5, and other licences inside),
so the GitHub tree, with a checksum per file, is the source used.

Examples:
    >>> source = get_source("mtddh")
    >>> source.licence, target_path(source, "data/dataset1_train_a16.jpg")
    ('CC BY 4.0', 'images/dataset1_train_a16.jpg')
    >>> target_path(source, "data.yaml") is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class GitHubFolder:
    """A folder of a GitHub repository at a branch (or tag, or commit), listed through the git trees API.

    Examples:
        >>> GitHubFolder("o", "r", "main", "sub").web_url
        'https://github.com/o/r/tree/main/sub'
    """

    owner: str
    repo: str
    ref: str
    folder: str
    api_url: str = "https://api.github.com"
    raw_url: str = "https://raw.githubusercontent.com"
    lfs_url: str = "https://media.githubusercontent.com/media"

    @property
    def web_url(self) -> str:
        return f"https://github.com/{self.owner}/{self.repo}/tree/{self.ref}/{self.folder}"


@dataclass(frozen=True)
class LayoutRule:
    """Source file ``pattern`` (relative to the source folder; ``*`` stays within one path segment) and its
    local ``target`` (``{name}`` is the file name).

    Examples:
        >>> LayoutRule("data/*.txt", "labels/{name}").target_for("data/a.txt")
        'labels/a.txt'
    """

    pattern: str
    target: str

    def target_for(self, path: str) -> str | None:
        """The local path of source file ``path``, or None when the rule does not match it."""
        parts, wanted = path.split("/"), self.pattern.split("/")
        if len(parts) != len(wanted) or not all(fnmatchcase(p, w) for p, w in zip(parts, wanted)):
            return None
        return self.target.format(name=parts[-1])


def image_rules(folder: str, target: str) -> tuple[LayoutRule, ...]:
    """The rules that take the JPEG and PNG images (``.jpg``, ``.jpeg``, ``.png``) directly inside source folder
    ``folder`` to local folder ``target``, under their own names.

    Examples:
        >>> [rule.pattern for rule in image_rules("raw", "images")]
        ['raw/*.jpg', 'raw/*.jpeg', 'raw/*.png']
        >>> image_rules("raw", "images")[2].target_for("raw/a.png")
        'images/a.png'
    """
    return tuple(LayoutRule(f"{folder}/*{suffix}", f"{target}/{{name}}") for suffix in (".jpg", ".jpeg", ".png"))


@dataclass(frozen=True)
class DataSource:
    """One downloadable dataset: what it is, its licence and citation, where its files are, and the
    ``layout`` rules (first match wins; files no rule matches are not downloaded).

    Examples:
        >>> get_source("mtddh").url_env
        'HIPBENCH_MTDDH_URL'
    """

    name: str
    title: str
    licence: str
    licence_url: str
    attribution: str
    citation: str
    location: GitHubFolder
    layout: tuple[LayoutRule, ...]
    url_env: str
    notes: str = ""
    kind: str = "landmarks"  # what the download summary reads: landmark labels, or a measure table ("measures")


SOURCES_FILE = Path(__file__).with_name("sources.yaml")
_TEXT = ("title", "licence", "licence_url", "attribution", "citation", "url_env")
_REQUIRED = (*_TEXT, "location", "images", "files")
_OPTIONAL = ("notes", "kind")
KINDS = ("landmarks", "measures")  # what the download summary reads: label files, or a measure table


def _source(name: str, entry: Any, where: str) -> DataSource:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: source {name!r} must be a mapping of its settings, got {entry!r}")
    missing = [key for key in _REQUIRED if key not in entry]
    unknown = sorted(set(entry) - set(_REQUIRED) - set(_OPTIONAL))
    if missing or unknown:
        raise ValueError(f"{where}: source {name!r}: missing {missing}, unknown {unknown}; "
                         f"expected {', '.join(_REQUIRED)} and optionally {', '.join(_OPTIONAL)}")
    try:
        owner, repo = entry["location"]["repository"].split("/")
        location = GitHubFolder(owner, repo, entry["location"]["ref"], entry["location"]["folder"])
        layout = (*image_rules(entry["images"]["from"], entry["images"]["to"]),
                  *(LayoutRule(pattern, target) for pattern, target in entry["files"].items()))
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ValueError(f"{where}: source {name!r}: location must be {{repository: owner/name, ref, folder}}, "
                         f"images {{from, to}} and files a mapping of pattern to target ({e!r})") from None
    text = {key: str(entry[key]) for key in (*_TEXT, *_OPTIONAL) if key in entry}
    if text.get("kind", "landmarks") not in KINDS:
        raise ValueError(f"{where}: source {name!r}: kind must be one of {', '.join(KINDS)}, got {text['kind']!r}")
    return DataSource(name=name, location=location, layout=layout, **text)


def load_sources(path: Path = SOURCES_FILE) -> dict[str, DataSource]:
    """The sources of the YAML catalogue ``path`` (its header says what each key means); a malformed entry
    is a ``ValueError`` naming the file, the source and what was expected.

    Examples:
        >>> sorted(load_sources())
        ['av_ddh', 'mtddh']
    """
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(entries, dict):
        raise ValueError(f"{path}: expected a mapping of source name to its settings")
    return {str(name).lower(): _source(str(name), entry, str(path)) for name, entry in entries.items()}


SOURCES: dict[str, DataSource] = load_sources()


def get_source(name: str) -> DataSource:
    """The registered source ``name``; an unknown name is a ``KeyError`` listing the known ones.

    Examples:
        >>> get_source("nope")
        Traceback (most recent call last):
        ...
        KeyError: "unknown dataset source 'nope'; known: av_ddh, mtddh"
    """
    try:
        return SOURCES[name.lower()]
    except KeyError:
        raise KeyError(f"unknown dataset source {name!r}; known: {', '.join(sorted(SOURCES))}") from None


def target_path(source: DataSource, path: str) -> str | None:
    """Local path (relative to the output directory) of the source file ``path``, or None to skip it."""
    for rule in source.layout:
        target = rule.target_for(path)
        if target is not None:
            return target
    return None


def describe(source: DataSource) -> str:
    """The ``hipbench data download --list`` entry of ``source``: licence, citation, exact URLs, layout.

    Examples:
        >>> "licence:     CC BY 4.0" in describe(get_source("mtddh"))
        True
    """
    loc = source.location
    repo = f"{loc.owner}/{loc.repo}"
    layout = ", ".join(f"{r.pattern} -> {r.target.replace('{name}', '')}" for r in source.layout)
    lines = [
        f"{source.name}: {source.title}",
        f"  licence:     {source.licence} ({source.licence_url})",
        f"  attribution: {source.attribution}",
        f"  citation:    {source.citation}",
        f"  source:      {loc.web_url}",
        f"  listing:     {loc.api_url}/repos/{repo}/commits/{loc.ref}, then {loc.api_url}/repos/{repo}/git/trees/<sha>"
        f"[?recursive=1] (size and git blob SHA-1 per file)",
        f"  files:       {loc.raw_url}/{repo}/<commit>/{loc.folder}/<path> "
        f"(Git LFS files: {loc.lfs_url}/{repo}/<commit>/{loc.folder}/<path>, SHA-256)",
        f"  layout:      {layout}",
        f"  mirror:      --base-url URL or ${source.url_env} (URL/api, URL/raw, URL/media in the same shapes)",
        "  checked:     these URLs were not tried live: the machine hipbench was built on has no internet access",
    ]
    if source.notes:
        lines.append(f"  note:        {source.notes}")
    return "\n".join(lines)

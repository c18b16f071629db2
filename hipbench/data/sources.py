"""Registry of downloadable datasets: where each one lives, its licence, and how its files map onto the
local layout hipbench reads. Data, not code: :mod:`hipbench.data.download` does the fetching.

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


MTDDH = DataSource(
    name="mtddh",
    title="MTDDH pediatric AP-pelvis radiographs with 8 expert landmarks (YOLO-pose), official train/val/test split",
    licence="CC BY 4.0",
    licence_url="https://creativecommons.org/licenses/by/4.0/",
    attribution=("MTDDH, Scientific Data 2025, doi:10.1038/s41597-025-05146-x; converted to YOLO-pose labels with "
                 "the official split by The Open Hip Dysplasia Dataset, radoss-org, doi:10.5281/zenodo.15086603"),
    citation="MTDDH dataset. Scientific Data (2025). https://doi.org/10.1038/s41597-025-05146-x",
    location=GitHubFolder("radoss-org", "open-hip-dysplasia", "main", "mtddh_xray_2d"),
    layout=(
        *image_rules("data", "images"),
        LayoutRule("data/*.txt", "labels/{name}"),
        LayoutRule("dataset_splits.json", "dataset_splits.json"),
        LayoutRule("outliers.json", "outliers.json"),
        LayoutRule("README.md", "SOURCE_README.md"),
    ),
    url_env="HIPBENCH_MTDDH_URL",
    notes=("images are .jpg or .png; outliers.json lists images by category (wrong body part, labels wrong way "
           "round, frog-leg views, implants, over age, missing); the mtddh_yolo dataset leaves out the categories "
           "its exclude: names (default: wrong_body_part, wrong_way_round, frog_leg, implants), see "
           "docs/DATA_DOWNLOAD.md"),
)

AV_DDH = DataSource(
    name="av_ddh",
    title="AV-DDH pediatric pelvis radiographs with the acetabular index measured on each hip (no landmarks)",
    licence="CC BY 4.0",
    licence_url="https://creativecommons.org/licenses/by/4.0/",
    attribution=("Haddad B., AlHosanie T., Dweidari A., et al., Acetabular-vision hip developmental dysplasia's "
                 "(AV-DDH), Mendeley Data, V2, doi:10.17632/4gvcb6gmh2.2; as included in The Open Hip Dysplasia "
                 "Dataset, radoss-org, doi:10.5281/zenodo.15086603"),
    citation=("Haddad B. et al. Acetabular-vision hip developmental dysplasia's (AV-DDH). Mendeley Data, V2 "
              "(2026). https://doi.org/10.17632/4gvcb6gmh2.2"),
    location=GitHubFolder("radoss-org", "open-hip-dysplasia", "main", "av_ddh_xray"),
    layout=(
        *image_rules("raw", "raw"),
        LayoutRule("data.xlsx", "data.xlsx"),
        LayoutRule("README.md", "SOURCE_README.md"),
        LayoutRule("LICENSE", "SOURCE_LICENSE"),
    ),
    url_env="HIPBENCH_AV_DDH_URL",
    notes=("no landmarks: data.xlsx holds one row per image (File Number, Rt and Lt Acetabular Index in Degrees, "
           "DDH); the av_ddh dataset reads Rt/Lt as the patient's sides (Rt -> image-left hip) and scores the AI of "
           "landmark models under test_datasets:; reading data.xlsx needs openpyxl (pip install \"hipbench[xlsx]\")"),
    kind="measures",
)

SOURCES: dict[str, DataSource] = {MTDDH.name: MTDDH, AV_DDH.name: AV_DDH}


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

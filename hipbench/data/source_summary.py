"""What a downloaded MTDDH-layout directory holds, as ``hipbench data download`` prints it: image and label
counts, every label that does not parse (with its ``outliers.json`` categories), the outlier categories and
what the ``mtddh_yolo`` dataset leaves out by default, and the official split's counts with and without
those exclusions.

Labels that cannot be used at all are written to ``exclude.txt`` by the download, each with its category:
the first ``outliers.json`` category listing it, else ``unusable_label``.

Examples:
    >>> import tempfile
    >>> summarise(tempfile.mkdtemp()).lines()[0]
    'images: 0, labels: 0, pairs: 0'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from hipbench.data.exclusions import count_text, tag
from hipbench.data.outliers import DEFAULT_EXCLUDE, OUTLIERS_FILE, Outliers, read_outliers

UNUSABLE = "unusable_label"  # the category of an unusable label no outliers.json category lists


@dataclass
class DatasetSummary:
    """Counts, label problems, the outlier categories and the official split of one downloaded directory.
    ``unparsable``: stem -> ``[category] why``, the lines of ``exclude.txt``."""

    images: int = 0
    labels: int = 0
    paired: int = 0
    parse_failures: int = 0
    problems: list[tuple[str, str]] = field(default_factory=list)
    splits: dict[str, int] = field(default_factory=dict)
    split_missing: dict[str, int] = field(default_factory=dict)
    split_usable: dict[str, int] = field(default_factory=dict)
    unparsable: dict[str, str] = field(default_factory=dict)
    outliers: dict[str, int] = field(default_factory=dict)
    unknown_outliers: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        out = [f"images: {self.images}, labels: {self.labels}, pairs: {self.paired}",
               f"labels parsed: {self.paired - self.parse_failures} ok; problems: {len(self.problems)}"]
        out += [f"  {f}: {why}" for f, why in self.problems]
        if self.unparsable:
            out.append(f"{len(self.unparsable)} unusable label(s) listed in exclude.txt: hipbench leaves them out "
                       "of training and testing and reports them (data check shows them as warnings)")
        if self.outliers:
            out.append(f"outliers.json lists: {count_text(self.outliers)}; the mtddh_yolo dataset leaves out "
                       f"{', '.join(DEFAULT_EXCLUDE)} unless its exclude: says otherwise")
        out += [f"outliers.json: category {k!r} ({n} image(s)) is not one hipbench knows; it is not excluded"
                for k, n in self.unknown_outliers.items()]
        if self.splits:
            counts = ", ".join(f"{k} {v}" for k, v in self.splits.items())
            missing = sum(self.split_missing.values())
            out.append(f"official split (dataset_splits.json): {counts}"
                       + (f"; {missing} listed image(s) without image+label here" if missing else "; all present"))
            usable = ", ".join(f"{k} {v}" for k, v in self.split_usable.items())
            out.append(f"  usable with the default exclude: {usable} (present, not in exclude.txt, not in "
                       f"{', '.join(DEFAULT_EXCLUDE)})")
        return out


def summarise(root: str | Path) -> DatasetSummary:
    """Parse every label in ``root/labels`` with its image from ``root/images``, read ``outliers.json`` and
    the official split."""
    from hipbench.data.dataset import DatasetError, list_images, strip_file
    from hipbench.data.formats import read_annotation

    root = Path(root)
    summary = DatasetSummary()
    images: dict[str, Path] = {}
    if (root / "images").is_dir():
        try:
            images = list_images(root / "images")
        except DatasetError as exc:
            summary.problems.append(("images/", str(exc)))
    labels = {p.stem: p for p in sorted((root / "labels").glob("*.txt"))}
    outliers = _outliers(root, summary)
    summary.images, summary.labels = len(images), len(labels)
    for stem, label in labels.items():
        rel = label.relative_to(root).as_posix()
        if stem not in images:
            summary.problems.append((rel, "label has no image"))
            continue
        summary.paired += 1
        try:
            read_annotation(label, "mtddh_yolo", image_path=images[stem])
        except (DatasetError, ValueError, OSError) as exc:
            categories = outliers.categories_of(stem) if outliers else []
            why = strip_file(str(exc), label)
            summary.parse_failures += 1
            summary.problems.append((rel, why + (f" [outliers.json: {', '.join(categories)}]" if categories else "")))
            summary.unparsable[stem] = tag(categories[0] if categories else UNUSABLE, why)
    summary.problems += [(images[s].relative_to(root).as_posix(), "image has no label")
                         for s in images if s not in labels]
    _read_split(root, summary, set(images) & set(labels), outliers)
    return summary


def _outliers(root: Path, summary: DatasetSummary) -> Outliers | None:
    if not (root / OUTLIERS_FILE).is_file():
        return None
    try:
        outliers = read_outliers(root / OUTLIERS_FILE)
    except ValueError as exc:
        summary.problems.append((OUTLIERS_FILE, str(exc).removeprefix(f"{root / OUTLIERS_FILE}").lstrip(":, ")))
        return None
    summary.outliers, summary.unknown_outliers = outliers.counts(), dict(outliers.unknown)
    return outliers


def _read_split(root: Path, summary: DatasetSummary, paired: set[str], outliers: Outliers | None) -> None:
    path = root / "dataset_splits.json"
    if not path.is_file():
        return
    try:
        splits = json.loads(path.read_text())["splits"]
        left_out = set(summary.unparsable) | {s for s in paired if outliers and
                                              set(outliers.categories_of(s)) & set(DEFAULT_EXCLUDE)}
        summary.splits = {name: len(ids) for name, ids in splits.items()}
        summary.split_missing = {name: len(set(ids) - paired) for name, ids in splits.items()}
        summary.split_usable = {name: len((set(ids) & paired) - left_out) for name, ids in splits.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        summary.problems.append(("dataset_splits.json", f"expected {{\"splits\": {{name: [ids]}}}} ({exc})"))

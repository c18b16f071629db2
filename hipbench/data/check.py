"""``hipbench data check``: validate a dataset directory and list every problem with its file.

Errors (exit 1): unreadable or truncated images, labels without images and images without labels, wrong
point counts, non-numeric or NaN values, points outside the image, left/right hips swapped, image sizes
that disagree with the labels; for a measure table (``av_ddh``), unreadable cells, rows without an image and
images without a row, each with its row number. Warnings: duplicate images (identical decoded content; splits
keep them in one fold), hips that cannot be graded, samples the dataset excludes (counted per category) and
notes about the dataset as a whole (e.g. ``outliers.json`` per category, hips a measure table leaves empty).

Examples:
    >>> import tempfile
    >>> from hipbench.data.synth import write_synthetic
    >>> root = write_synthetic(Path(tempfile.mkdtemp()) / "s", num=3, seed=0, size=64).root
    >>> report = check_dataset(root)
    >>> report.format, report.num_samples, report.ok
    ('ihdi_csv', 3, True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Problem:
    """One finding: the ``file`` it concerns, a ``message``, and ``severity`` ``error`` or ``warning``.

    Examples:
        >>> str(Problem("a.csv", "NaN value"))
        'ERROR    a.csv: NaN value'
    """

    file: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        return f"{self.severity.upper():8} {self.file}: {self.message}"


@dataclass
class CheckReport:
    """What :func:`check_dataset` found: counts, schema, image sizes, problems.

    Examples:
        >>> r = CheckReport("d", "ihdi_csv", problems=[Problem("x", "bad")])
        >>> r.ok, len(r.errors)
        (False, 1)
    """

    root: str
    format: str
    schema: str | None = None
    num_keypoints: int | None = None
    num_samples: int = 0
    num_patients: int = 0
    image_sizes: Counter = field(default_factory=Counter)
    with_spacing: int = 0
    spacing_sources: Counter = field(default_factory=Counter)
    excluded: Counter = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    truth: list[str] = field(default_factory=list)  # a measure-truth dataset's description (no landmarks)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def spacing_text(self) -> str:
        """How many images have a pixel spacing, from where, and whether mm figures can be reported.

        Examples:
            >>> CheckReport("d", "landmark_csv", num_samples=3, with_spacing=2,
            ...             spacing_sources=Counter({"csv": 1, "dicom": 1})).spacing_text()
            '2/3 images (csv 1, dicom 1); mm figures need all, so results will be in px only'
        """
        text = f"{self.with_spacing}/{self.num_samples} images"
        if self.spacing_sources:
            text += f" ({', '.join(f'{k} {n}' for k, n in sorted(self.spacing_sources.items()))})"
        if 0 < self.with_spacing < self.num_samples:
            text += "; mm figures need all, so results will be in px only"
        return text

    def text(self) -> str:
        """The human-readable report ``hipbench data check`` prints."""
        lines = [f"dataset: {self.root}", f"format:  {self.format}"]
        if self.truth:
            lines += self.truth
        elif self.schema:
            lines.append(f"schema:  {self.schema} ({self.num_keypoints} landmarks)")
        lines.append(f"samples: {self.num_samples} loaded, {self.num_patients} patients")
        if self.excluded:
            from hipbench.data.exclusions import count_text

            lines.append(f"excluded: {sum(self.excluded.values())} ({count_text(dict(self.excluded))})")
        if self.image_sizes:
            sizes = ", ".join(f"{w}x{h} ({n})" for (w, h), n in self.image_sizes.most_common(5))
            more = len(self.image_sizes) - 5
            lines.append(f"image sizes: {sizes}{f', and {more} more' if more > 0 else ''}")
        lines.append(f"pixel spacing known: {self.spacing_text()}")
        lines.append(f"problems: {len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def check_dataset(root: str | Path, format: str = "auto", decode: bool = True, **kwargs) -> CheckReport:
    """Load ``root`` with ``on_error: skip`` and collect every problem (decoding each image when ``decode``).

    Examples:
        >>> check_dataset("/nonexistent").errors[0].message
        'dataset directory not found'
    """
    from hipbench.data.dataset import DatasetError
    from hipbench.data.exclusions import left_out_category
    from hipbench.data.formats import detect_format, load_dataset
    from hipbench.data.images import ImageReadError, content_hash

    root = Path(root)
    report = CheckReport(str(root), format)
    if not root.exists():
        report.problems.append(Problem(str(root), "dataset directory not found"))
        return report
    try:
        fmt = detect_format(root) if format == "auto" else format
        report.format = fmt
        dataset = load_dataset(root, fmt, on_error="skip", **kwargs)
    except (DatasetError, ValueError, OSError) as exc:
        message = str(exc)
        prefix = f"{root}: "
        report.problems.append(Problem(str(root), message[len(prefix):] if message.startswith(prefix) else message))
        return report
    report.schema, report.num_keypoints = dataset.schema.name, dataset.schema.num_keypoints
    from hipbench.data.measure_truth import MeasureDataset

    if isinstance(dataset, MeasureDataset):
        report.truth = dataset.describe()
    report.problems += [Problem(f, why) for f, why in dataset.skipped]
    report.problems += [Problem(f, f"excluded by {why}", "warning") for f, why in getattr(dataset, "excluded", [])]
    report.excluded.update(left_out_category(f"excluded by {why}") for _, why in getattr(dataset, "excluded", []))
    report.problems += [Problem(str(root), note, "warning") for note in getattr(dataset, "notes", [])]
    report.num_samples = len(dataset)
    report.num_patients = len({s.patient_id for s in dataset})
    by_hash: dict[str, list[str]] = {}
    for sample in dataset:
        report.image_sizes[tuple(sample.image_size)] += 1
        if sample.pixel_spacing is not None:
            report.with_spacing += 1
            report.spacing_sources[sample.meta.get("pixel_spacing_from") or "other"] += 1
        if not decode or (sample.image_path is None and sample.loader is None):
            continue
        where = str(sample.image_path or sample.image_id)
        try:
            pixels = sample.load_image()
        except (ImageReadError, OSError, ValueError) as exc:
            message = str(exc)
            report.problems.append(Problem(where, message[len(where) + 2:] if message.startswith(where) else message))
            continue
        size = (pixels.shape[1], pixels.shape[0])
        if size != tuple(sample.image_size):
            report.problems.append(Problem(where, f"decoded size {size} differs from the labelled size "
                                                  f"{tuple(sample.image_size)}"))
        by_hash.setdefault(content_hash(pixels), []).append(where)
    for files in by_hash.values():
        if len(files) > 1:
            for f in files:
                others = [o for o in files if o != f]
                report.problems.append(Problem(f, f"same image content as {', '.join(others)} (duplicates are kept "
                                                  "in one fold by the splits)", "warning"))
    report.problems += _gradability(dataset)
    return report


def _gradability(dataset) -> list[Problem]:
    from hipbench.geometry import ungradable_reason

    schema = dataset.schema
    needed = ("triradiate", "acetabular_margin", "h_point")
    if not len(dataset) or not all(schema.has_role(r, s) for r in needed for s in ("left", "right")):
        return []
    points = np.stack([s.keypoints for s in dataset])
    reasons = np.asarray(ungradable_reason(points, schema))
    out = []
    for sample, per_side in zip(dataset, reasons):
        for side, reason in zip(("left", "right"), per_side):
            if reason:
                where = str(sample.meta.get("annotation_path") or sample.image_path or sample.image_id)
                out.append(Problem(where, f"image-{side} hip cannot be graded: {reason}", "warning"))
    return out

"""Measure-level truth: radiographs with a value measured on each hip (the acetabular index of AV-DDH) and no
landmarks. Such a set cannot score landmarks; it scores the measures a landmark model derives from its points.

A sample of a measure-truth dataset has the landmark-free schema :data:`MEASURES_ONLY` (keypoints of shape
(0, 2)) and carries its truth in ``meta[MEASURED]``: ``{measure name: [image-left, image-right]}``, NaN where
the hip was not measured. Left and right are image sides, as everywhere in hipbench; ``sides:`` says how the
source's own side words map onto them (``patient``: the source's "Rt" is the patient's right, the image-left
hip on a radiograph displayed in the standard way; ``image``: the source already means image sides).

The table (``.xlsx`` through pandas and openpyxl, or ``.csv``) has one row per image: an id column naming the
image file's stem, and per measure a column per side. Columns are found by their headers (tolerant of case,
spacing and the words ``Rt``/``Right``/``Lt``/``Left``), or named with ``columns:``. Every cell that cannot be
read, every row without an image, every image without a row and every repeated id is a problem with its row
number (``on_error: fail`` stops at the first; ``skip`` reports them all); empty cells are "not measured" and
counted in the dataset's notes, never dropped silently.

Examples:
    >>> image_sides(right=31.5, left=22.0, sides="patient"), image_sides(right=31.5, left=22.0, sides="image")
    ([31.5, 22.0], [22.0, 31.5])
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipbench.data.cells import finite_number
from hipbench.data.dataset import Collector, DatasetError, KeypointDataset, list_images, patient_id_from_stem
from hipbench.data.sample import Sample
from hipbench.schema import SIDES, LandmarkSchema

MEASURED = "measured"  # Sample.meta key of a measure-truth sample
MEASURES_ONLY = LandmarkSchema("measures_only", ())
SIDE_CONVENTIONS = ("patient", "image")
XLSX_INSTALL = 'pip install "hipbench[xlsx]"  (or: pip install openpyxl)'
# cell texts that mean "not measured" (anything else that is not a number is an unreadable cell)
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "none", "null", "-", "--", "not measured"})
# headers that name a measure's per-side columns when ``columns:`` does not (matched on lower-cased words)
HEADER_WORDS: dict[str, tuple[str, ...]] = {"ai": ("acetabular index", "ai")}
# values outside these are unreadable cells (a typo, another unit), reported with their row
PLAUSIBLE: dict[str, tuple[float, float]] = {"ai": (0.0, 90.0)}
ID_HEADERS = ("file number", "file", "file name", "filename", "image", "image id", "image name", "id")
DDH_HEADERS = ("ddh", "diagnosis")
RIGHT_WORDS, LEFT_WORDS = frozenset({"rt", "right", "r"}), frozenset({"lt", "left", "l"})
DDH_LABELS = {"no ddh": (), "right ddh": ("right",), "left ddh": ("left",), "bilateral ddh": ("right", "left")}


def image_sides(right: float, left: float, sides: str) -> list[float]:
    """``[image-left, image-right]`` of a source's ``right`` and ``left`` values under its side convention:
    ``patient`` (the patient's right hip is the image-left one) or ``image``."""
    if sides not in SIDE_CONVENTIONS:
        raise ValueError(f"sides must be one of {SIDE_CONVENTIONS}, got {sides!r}")
    return [right, left] if sides == "patient" else [left, right]


def image_side_of(source_side: str, sides: str) -> str:
    """The image side of the source's ``right``/``left`` under ``sides``.

    Examples:
        >>> image_side_of("right", "patient"), image_side_of("right", "image")
        ('left', 'right')
    """
    if source_side not in SIDES or sides not in SIDE_CONVENTIONS:
        raise ValueError(f"expected a side (right, left) and a convention {SIDE_CONVENTIONS}, got "
                         f"{source_side!r}, {sides!r}")
    return {"right": "left", "left": "right"}[source_side] if sides == "patient" else source_side


class MeasureDataset(KeypointDataset):
    """A :class:`~hipbench.data.dataset.KeypointDataset` of measure-truth samples (schema
    :data:`MEASURES_ONLY`): ``measures`` the measure names with truth, ``sides`` the source's side
    convention, ``columns`` the table columns read (``{"id": ..., measure: {"right": ..., "left": ...}}``),
    ``table`` the table file."""

    def __init__(self, name: str, samples: Iterable[Sample], root: str | Path | None, measures: Sequence[str],
                 sides: str, columns: Mapping[str, Any], table: Path | None = None,
                 skipped: Iterable[tuple[str, str]] = (), notes: Iterable[str] = ()) -> None:
        super().__init__(name, MEASURES_ONLY, samples, root, skipped, (), notes)
        self.measures, self.sides, self.columns, self.table = tuple(measures), sides, dict(columns), table

    def describe(self) -> list[str]:
        """What the truth is and where it came from, as ``data check`` and ``data stats`` print it."""
        where = self.table.name if self.table is not None else "the table"
        lines = [f"truth: {', '.join(self.measures)} measured per hip, read from {where}; no landmarks"]
        for measure in self.measures:
            cols = self.columns.get(measure) or {}
            lines.append(f"  {measure}: column {cols.get('right')!r} -> image-{image_side_of('right', self.sides)} "
                         f"hip, {cols.get('left')!r} -> image-{image_side_of('left', self.sides)} hip "
                         f"(sides: {self.sides})")
            values = measured_values(self._samples, measure) if len(self) else np.zeros((0, 2))
            counts = ", ".join(f"image-{side} {int(np.isfinite(values[:, k]).sum())}" for k, side in enumerate(SIDES))
            lines.append(f"  {measure} measured: {counts} of {len(self)} images")
        return lines


def is_measured(samples: Sequence[Any]) -> bool:
    """True when ``samples`` carry measure truth (:data:`MEASURED`) rather than landmarks.

    Examples:
        >>> is_measured([]), is_measured([Sample("a", "a", np.zeros((0, 2)), np.zeros(0, bool), {}, (4, 4),
        ...                                      MEASURES_ONLY, meta={MEASURED: {"ai": [20.0, 25.0]}})])
        (False, True)
    """
    return bool(len(samples)) and MEASURED in (getattr(samples[0], "meta", None) or {})


def measured_names(samples: Sequence[Any]) -> list[str]:
    """The measures the samples carry truth for (those of the first sample, in its order)."""
    return list(samples[0].meta[MEASURED]) if is_measured(samples) else []


def measured_values(samples: Sequence[Any], measure: str) -> np.ndarray:
    """(N, 2) [image-left, image-right] values of ``measure``, NaN where not measured."""
    return np.array([s.meta[MEASURED].get(measure, [math.nan, math.nan]) for s in samples], dtype=float
                    ).reshape(len(samples), 2)


def in_schema(samples: Sequence[Sample], schema: LandmarkSchema) -> list[Sample]:
    """Measure-truth samples in a training ``schema``'s terms: every landmark missing (NaN, invisible), so that
    the framings cut their views and the models predict on them like any test image; the truth stays in meta."""
    k = schema.num_keypoints
    return [dataclasses.replace(s, keypoints=np.full((k, 2), np.nan), visible=np.zeros(k, bool), schema=schema)
            for s in samples]


# reading the table -----------------------------------------------------------------------------------
def read_table(path: Path, sheet: int | str = 0) -> Any:
    """The table at ``path`` as a pandas DataFrame of raw cell values (``.xlsx``/``.xlsm`` through openpyxl,
    ``.csv``); without openpyxl, a :class:`DatasetError` saying how to install it."""
    import pandas as pd

    if not path.is_file():
        raise DatasetError(f"{path}: table not found")
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path, dtype=object, keep_default_na=False)
    try:
        import openpyxl  # noqa: F401 (pandas' reader for .xlsx; checked here for a clear message)
    except ImportError:
        raise DatasetError(f"{path}: reading .xlsx tables needs openpyxl, which is not installed: "
                           f"{XLSX_INSTALL}") from None
    try:
        return pd.read_excel(path, sheet_name=sheet, dtype=object, keep_default_na=False, engine="openpyxl")
    except (ValueError, KeyError, OSError) as exc:
        raise DatasetError(f"{path}: not a readable spreadsheet ({exc})") from None


def _words(header: Any) -> str:
    return " ".join(re.sub(r"[_/()\[\]:]+", " ", str(header)).lower().split())


def _find(headers: Sequence[str], wanted: str, path: Path) -> str:
    if wanted in headers:
        return wanted
    found = [h for h in headers if _words(h) == _words(wanted)]
    if len(found) != 1:
        raise DatasetError(f"{path}: no column {wanted!r}; the columns are {', '.join(map(repr, headers))}")
    return found[0]


def _side_of(words: str) -> str | None:
    tokens = set(words.split())
    right, left = bool(tokens & RIGHT_WORDS), bool(tokens & LEFT_WORDS)
    return "right" if right and not left else "left" if left and not right else None


def _measure_columns(headers: Sequence[str], measure: str, path: Path) -> dict[str, str] | None:
    """The right and left columns of ``measure`` found by their headers; None when there are none."""
    words = HEADER_WORDS.get(measure, (measure.replace("_", " "),))
    found: dict[str, list[str]] = {"right": [], "left": []}
    for header in headers:
        text = _words(header)
        if any(f" {w} " in f" {text} " for w in words) and (side := _side_of(text)) is not None:
            found[side].append(header)
    if not found["right"] and not found["left"]:
        return None
    for side, names in found.items():
        if len(names) != 1:
            what = "none" if not names else " and ".join(map(repr, names))
            raise DatasetError(f"{path}: cannot tell the {side} {measure} column ({what} found); name them with "
                               f"columns: {{{measure}: {{right: COLUMN, left: COLUMN}}}}")
    return {"right": found["right"][0], "left": found["left"][0]}


def resolve_columns(headers: Sequence[str], path: Path, columns: Mapping[str, Any] | None = None
                    ) -> dict[str, Any]:
    """``{"id": column, "ddh": column or None, measure: {"right": column, "left": column}, ...}`` for the
    table's ``headers``: named in ``columns`` (``id``, ``ddh``, and per measure ``{right, left}``), else found
    by their headers (:data:`ID_HEADERS`, :data:`DDH_HEADERS`, :data:`HEADER_WORDS`). Measures named in
    ``columns`` replace the ones found.

    Examples:
        >>> resolve_columns(["File Number", "Rt Acetabular Index in Degrees", "Lt Acetabular Index in Degrees",
        ...                  "DDH"], Path("data.xlsx"))["ai"]
        {'right': 'Rt Acetabular Index in Degrees', 'left': 'Lt Acetabular Index in Degrees'}
    """
    columns = dict(columns or {})
    headers = [str(h) for h in headers]
    unknown = [k for k, v in columns.items() if k not in ("id", "ddh") and not isinstance(v, Mapping)]
    if unknown:
        raise DatasetError(f"{path}: columns: {', '.join(unknown)} must map right and left to column names")
    out: dict[str, Any] = {}
    if columns.get("id"):
        out["id"] = _find(headers, str(columns["id"]), path)
    else:
        ids = [h for h in headers if _words(h) in ID_HEADERS]
        if not ids:
            raise DatasetError(f"{path}: no image id column ({', '.join(ID_HEADERS)}); name it with columns: "
                               f"{{id: COLUMN}}. The columns are {', '.join(map(repr, headers))}")
        out["id"] = ids[0]
    ddh = columns.get("ddh")
    out["ddh"] = _find(headers, str(ddh), path) if ddh else next((h for h in headers if _words(h) in DDH_HEADERS),
                                                                   None)
    named = {k: v for k, v in columns.items() if k not in ("id", "ddh")}
    for measure, spec in named.items():
        missing = [side for side in ("right", "left") if not spec.get(side)]
        if missing:
            raise DatasetError(f"{path}: columns: {measure} needs right and left, missing {', '.join(missing)}")
        out[measure] = {side: _find(headers, str(spec[side]), path) for side in ("right", "left")}
    if not named:
        for measure in HEADER_WORDS:
            found = _measure_columns(headers, measure, path)
            if found is not None:
                out[measure] = found
    if len(out) == 2:
        raise DatasetError(f"{path}: no measure columns found (e.g. 'Rt Acetabular Index in Degrees' and 'Lt ...'); "
                           f"name them with columns: {{ai: {{right: COLUMN, left: COLUMN}}}}. The columns are "
                           f"{', '.join(map(repr, headers))}")
    return out


def parse_value(raw: Any, measure: str) -> float:
    """The number in one cell: NaN for an empty cell or a "not measured" marker (:data:`MISSING_MARKERS`);
    ``ValueError`` saying why for anything else that is not a plausible value of ``measure``.

    Examples:
        >>> parse_value(" 27.5 ", "ai"), parse_value("", "ai"), parse_value(None, "ai")
        (27.5, nan, nan)
        >>> parse_value("abc", "ai")
        Traceback (most recent call last):
        ...
        ValueError: 'abc' is not a number
    """
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return math.nan
    if isinstance(raw, bool):
        raise ValueError(f"{raw!r} is not a number")
    if isinstance(raw, (int, float, np.integer, np.floating)):
        value = float(raw)
        if not math.isfinite(value):
            raise ValueError(f"{raw!r} is not a finite number")
    else:
        text = str(raw).strip()
        if text.lower() in MISSING_MARKERS:
            return math.nan
        value = finite_number(text)
    low, high = PLAUSIBLE.get(measure, (-math.inf, math.inf))
    if not low <= value <= high:
        raise ValueError(f"{value:g} is outside the plausible range {low:g} to {high:g}")
    return value


def _image_id(raw: Any) -> str:
    """A file-number cell as the image's stem (``1020118.0`` read from a number column is ``1020118``)."""
    if raw is None or (isinstance(raw, float) and math.isnan(raw)):
        return ""
    if isinstance(raw, (float, np.floating)) and float(raw).is_integer():
        return str(int(raw))
    text = str(raw).strip()
    return text[:-2] if re.fullmatch(r"\d+\.0", text) else text


def _rows_text(rows: Sequence[int], limit: int = 5) -> str:
    shown = ", ".join(map(str, rows[:limit]))
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


def read_measure_table(root: str | Path, table: str = "data.xlsx", images: str = "raw", sides: str = "patient",
                       columns: Mapping[str, Any] | None = None, sheet: int | str = 0,
                       patient_regex: str | None = None, on_error: str = "fail",
                       name: str = "measures") -> MeasureDataset:
    """Read the measure table ``root/table`` and pair each row with its image ``root/images/<id>.<ext>``.

    See the module docstring for columns, sides and how problems are reported. Each sample keeps its table
    row (``meta["table_row"]``, the spreadsheet's row number) and its DDH label when the table has one
    (``meta["ddh"]``, and ``meta["ddh_image_sides"]``: the image sides it names under ``sides``).
    """
    from hipbench.data.images import probe_image
    from hipbench.registry import MEASURES

    if sides not in SIDE_CONVENTIONS:
        raise ValueError(f"sides must be one of {', '.join(SIDE_CONVENTIONS)}, got {sides!r}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset directory not found")
    path = root / table
    frame = read_table(path, sheet)
    headers = [str(h) for h in frame.columns]
    resolved = resolve_columns(headers, path, columns)
    measures = [m for m in resolved if m not in ("id", "ddh")]
    for measure in measures:
        kind = MEASURES.get(measure).kind
        if kind != "continuous":
            raise DatasetError(f"{path}: {measure} is a {kind} measure; only continuous measures are read from "
                               "tables")
    image_dir = root / images if (root / images).is_dir() else root
    files = list_images(image_dir)
    collector = Collector(on_error)
    seen: dict[str, int] = {}
    empty_rows: list[int] = []
    not_measured: dict[tuple[str, str], list[int]] = {}
    unknown_ddh: dict[str, list[int]] = {}
    for index, record in enumerate(frame.to_dict("records")):
        row = index + 2  # the spreadsheet's own row number: row 1 holds the headers
        where = f"row {row}"
        if all(_image_id(v) == "" for v in record.values()):
            empty_rows.append(row)
            continue
        image_id = _image_id(record[resolved["id"]])
        if not image_id:
            collector.problem(path, f"{where}: empty {resolved['id']!r} cell; which image is this row?")
            continue
        where = f"row {row} ({resolved['id']} {image_id})"
        if image_id in seen:
            collector.problem(path, f"{where}: the same image as row {seen[image_id]}")
            continue
        seen[image_id] = row
        values: dict[str, list[float]] = {}
        problems = []
        for measure in measures:
            pair = {}
            for side in ("right", "left"):
                column = resolved[measure][side]
                try:
                    pair[side] = parse_value(record[column], measure)
                except ValueError as exc:
                    problems.append(f"column {column!r}: {exc}")
                    continue
                if math.isnan(pair[side]):
                    not_measured.setdefault((measure, image_side_of(side, sides)), []).append(row)
            if len(pair) == 2:
                values[measure] = image_sides(pair["right"], pair["left"], sides)
        if problems:
            collector.problem(path, f"{where}: unreadable cell(s): {'; '.join(problems)}")
            continue
        if image_id not in files:
            collector.problem(path, f"{where}: no image {image_id}.* in {image_dir}")
            continue
        ddh = str(record[resolved["ddh"]]).strip().lower() if resolved["ddh"] else ""
        if ddh and ddh not in DDH_LABELS:
            unknown_ddh.setdefault(ddh, []).append(row)

        def build(image_id: str = image_id, row: int = row, values: dict[str, list[float]] = values,
                  ddh: str = ddh) -> Sample:
            info = probe_image(files[image_id])
            meta: dict[str, Any] = {MEASURED: values, "table_row": row, "source_sides": sides}
            if ddh:
                meta["ddh"] = ddh
                meta["ddh_image_sides"] = [image_side_of(s, sides) for s in DDH_LABELS.get(ddh, ())]
            if info.pixel_spacing is not None:
                meta["pixel_spacing_from"] = "dicom"
            return Sample(image_id, patient_id_from_stem(image_id, patient_regex), np.zeros((0, 2)),
                          np.zeros(0, bool), {}, info.size, MEASURES_ONLY, info.pixel_spacing, files[image_id],
                          None, meta)

        collector.add(files[image_id], build)
    for stem in sorted(set(files) - set(seen)):
        collector.problem(files[stem], f"image has no row in {path.name}")
    notes = [f"{path.name}: {measure} not measured (empty cell) for {len(rows)} image-{side} hip(s), "
             f"{_rows_text(rows)}; those hips are not scored" for (measure, side), rows in sorted(not_measured.items())]
    notes += [f"{path.name}: DDH label {label!r} is none of {', '.join(DDH_LABELS)} ({_rows_text(rows)})"
              for label, rows in sorted(unknown_ddh.items())]
    if empty_rows:
        notes.append(f"{path.name}: {len(empty_rows)} empty row(s) ignored ({_rows_text(empty_rows)})")
    return MeasureDataset(name, collector.samples, root, measures, sides, resolved, path, collector.skipped,
                          collector.notes + notes)

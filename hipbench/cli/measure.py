"""``hipbench measure``: acetabular index, IHDI grade and every other measure the schema supports (Tönnis
grade, Hilgenreiner's h and d, centre-edge angle, installed measure plugins) of annotation files, per image
and summarised.

A clinician can measure manual annotations with it, and it is how the geometry is checked on real
labels. Every file gets a row: measured, or the reason it could not be read; no file is skipped.
Heavy libraries load inside the functions, so ``hipbench --help`` stays fast.

Examples:
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(measure_command, ["--help"]).output.splitlines()[0]
    'Usage: measure [OPTIONS] PATH...'
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import click

# numpy only: importing this module stays cheap
from hipbench.grades import GRADE_NAMES, GRADES, UNGRADABLE
from hipbench.schema import SIDES

# Review flags: things worth a second look at the labels (and, for IHDI IV, the hip); not diagnoses.
AI_PLAUSIBLE_MAX = 45.0       # degrees; infant AIs above this are rare even in dysplasia
AI_ASYMMETRY_MAX = 15.0       # degrees between the two hips of one image
H_POINT_FAR = 0.5             # H-point farther than this x inter-triradiate distance from its origin O
ROBUST_Z = 3.5                # batch outlier: |AI - median| > ROBUST_Z x 1.4826 x MAD
EXTRA_SKIP = ("ai", "ihdi")  # measured above with their own columns


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"1024x768"`` -> (1024, 768); raises :class:`click.BadParameter` otherwise.

    Examples:
        >>> parse_size("1024x768"), parse_size(None)
        ((1024, 768), None)
    """
    if text is None:
        return None
    parts = text.lower().replace(" ", "").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise click.BadParameter(f"{text!r}: expected WIDTHxHEIGHT in pixels, e.g. 1024x768") from None
    if width <= 0 or height <= 0:
        raise click.BadParameter(f"{text!r}: width and height must be positive")
    return width, height


def read_sizes(path: str | Path) -> dict[str, tuple[int, int]]:
    """Per-file image sizes from a CSV with a name column (``name``, ``stem``, ``image`` or ``file``)
    and ``width``/``height`` (or ``inferred_width``/``inferred_height``) columns, keyed by file stem.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "sizes.csv"
        >>> _ = p.write_text("name,inferred_width,inferred_height\\na,100,80\\n")
        >>> read_sizes(p)
        {'a': (100, 80)}
    """
    import csv

    path = Path(path)
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = reader.fieldnames or []
        name_col = next((c for c in ("name", "stem", "image", "file") if c in fields), None)
        width_col = next((c for c in ("width", "inferred_width", "image_width") if c in fields), None)
        height_col = next((c for c in ("height", "inferred_height", "image_height") if c in fields), None)
        if not (name_col and width_col and height_col):
            raise click.BadParameter(f"{path}: expected columns name (or stem/image/file) and width/height "
                                     f"(or inferred_width/inferred_height); found {fields}")
        sizes: dict[str, tuple[int, int]] = {}
        for line, row in enumerate(reader, 2):
            try:
                sizes[Path(row[name_col]).stem] = (int(float(row[width_col])), int(float(row[height_col])))
            except (TypeError, ValueError):
                raise click.BadParameter(f"{path}:{line}: width/height {row[width_col]!r}x{row[height_col]!r} "
                                         "are not numbers") from None
    return sizes


def measure_file(path: Path, fmt: str = "auto", image_size: tuple[int, int] | None = None) -> dict[str, Any]:
    """One record for one annotation file: sizes, AI and IHDI per side, IHDI (x, y), reasons, or ``error``.

    Examples:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "a.txt"
        >>> _ = p.write_text("0 0.3 0.4 0.1 0.1 0.2 0.35 2 0.3 0.4 2\\n1 0.3 0.5 0.1 0.1 0.28 0.47 2 0.27 0.5 2\\n"
        ...                  "0 0.7 0.4 0.1 0.1 0.8 0.35 2 0.7 0.4 2\\n1 0.7 0.5 0.1 0.1 0.72 0.47 2 0.73 0.5 2\\n")
        >>> r = measure_file(p, image_size=(200, 200))
        >>> round(r["ai_left"], 1), r["ihdi_left"], r["error"]
        (26.6, 1, '')
    """
    import numpy as np

    from hipbench.data.formats import read_annotation
    from hipbench.geometry import hilgenreiner_frame, measure_hips

    record: dict[str, Any] = {"file": str(path), "image_id": path.stem, "format": "", "width": None,
                              "height": None, "size_from": "", "error": ""}
    try:
        sample = read_annotation(path, format=fmt, image_size=image_size)
    except (ValueError, OSError) as exc:  # DatasetError is a ValueError; its message names the file
        record["error"] = str(exc)
        return record
    points, schema = sample.keypoints, sample.schema
    m = measure_hips(points, schema)
    frame = hilgenreiner_frame(points, schema)
    record.update(image_id=sample.image_id, format=sample.meta.get("format", fmt), width=sample.width,
                  height=sample.height, size_from=sample.meta.get("image_size_from", ""),
                  schema=schema.name, h_width_px=_num(frame.width))
    for k, side in enumerate(SIDES):
        record[f"ai_{side}"] = _num(m.ai[k])
        record[f"ihdi_{side}"] = int(m.ihdi[k]) or None
        record[f"ihdi_x_{side}"] = _num(m.local[k, 0])
        record[f"ihdi_y_{side}"] = _num(m.local[k, 1])
        reason = m.ihdi_reason[k] or m.ai_reason[k]
        record[f"ungradable_{side}"] = reason
    _other_measures(record, points, schema)
    record["flags"] = _label_flags(record, points, schema, frame, np)
    return record


def _other_measures(record: dict[str, Any], points: Any, schema: Any) -> None:
    """Every other measure the schema supports, per side: a value (continuous), a grade name (graded),
    None with ``<name>_ungradable_<side>`` saying why."""
    from hipbench.measures import build_measures, measure_names

    titles = {}
    for measure in build_measures([n for n in measure_names(schema) if n not in EXTRA_SKIP]):
        titles[measure.name] = measure.title
        result = measure.compute(points, schema)
        for k, side in enumerate(SIDES):
            value, reason = float(result.values[k]), str(result.reasons[k])
            if measure.kind == "graded":
                record[f"{measure.name}_{side}"] = measure.grade_name(value) if not reason else None
            else:
                record[f"{measure.name}_{side}"] = _num(value) if not reason else None
            record[f"{measure.name}_ungradable_{side}"] = reason
    record["measure_titles"] = titles


def _num(value: Any) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _label_flags(record: dict[str, Any], points: Any, schema: Any, frame: Any, np: Any) -> list[str]:
    """Per-image review flags from the geometry of one image's labels."""
    flags: list[str] = []
    width = record.get("h_width_px")
    for k, side in enumerate(SIDES):
        ai = record[f"ai_{side}"]
        if ai is not None and ai > AI_PLAUSIBLE_MAX:
            flags.append(f"ai_{side}>{AI_PLAUSIBLE_MAX:g}")
        asm = schema.role_points(points, "acetabular_margin", side)
        if np.isfinite(asm).all() and frame.valid:
            if float(((asm - frame.triradiate[k]) * frame.caudal[k]).sum()) > 0:
                flags.append(f"asm_{side}_below_hilgenreiner")
        x, y = record[f"ihdi_x_{side}"], record[f"ihdi_y_{side}"]
        if x is not None and y is not None and width and math.hypot(x, y) > H_POINT_FAR * width:
            flags.append(f"h_point_{side}_far_from_acetabulum")
        if record[f"ihdi_{side}"] == 4:  # rare: a dislocated hip, or a mislabelled femur
            flags.append(f"ihdi_{side}_IV")
        if schema.has_role("femoral_head", side) and schema.has_role("h_point", side) and frame.valid:
            drop = schema.role_points(points, "femoral_head", side) - schema.role_points(points, "h_point", side)
            if np.isfinite(drop).all() and float((drop * frame.caudal[k]).sum()) > 0:
                flags.append(f"femoral_head_{side}_below_h_point")
    if record["ai_left"] is not None and record["ai_right"] is not None:
        if abs(record["ai_left"] - record["ai_right"]) > AI_ASYMMETRY_MAX:
            flags.append(f"ai_asymmetry>{AI_ASYMMETRY_MAX:g}")
    return flags


def flag_batch_outliers(records: list[dict[str, Any]]) -> None:
    """Add ``ai_<side>_batch_outlier`` to records whose AI is a robust outlier of the batch (in place).

    Examples:
        >>> recs = [{"ai_left": a, "ai_right": b, "flags": []}
        ...         for a, b in zip((18, 21, 24, 19, 22, 60.0), (20, 23, 17, 25, 21, 19.0))]
        >>> flag_batch_outliers(recs); recs[-1]["flags"]
        ['ai_left_batch_outlier']
    """
    import numpy as np

    values = np.array([[r.get(f"ai_{s}") for s in SIDES] for r in records if "flags" in r], dtype=float)
    values = values[np.isfinite(values)]
    if values.size < 5:
        return
    median = float(np.median(values))
    spread = 1.4826 * float(np.median(np.abs(values - median)))
    if spread == 0:
        return
    for r in records:
        for side in SIDES:
            ai = r.get(f"ai_{side}")
            if ai is not None and abs(ai - median) > ROBUST_Z * spread and "flags" in r:
                r["flags"].append(f"ai_{side}_batch_outlier")


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, AI medians (left, right, both), IHDI grade counts, flagged and unreadable files.

    Examples:
        >>> summarise([{"file": "a", "error": "", "ai_left": 20.0, "ai_right": 30.0, "ihdi_left": 1,
        ...             "ihdi_right": 2, "flags": []}])["ai_median"]
        {'left': 20.0, 'right': 30.0, 'both': 25.0}
    """
    import numpy as np

    measured = [r for r in records if not r["error"]]
    medians: dict[str, float | None] = {}
    counts: dict[str, dict[str, int]] = {}
    n_ai: dict[str, int] = {}
    for key, sides in (("left", ("left",)), ("right", ("right",)), ("both", SIDES)):
        values = [r[f"ai_{s}"] for r in measured for s in sides if r[f"ai_{s}"] is not None]
        medians[key] = float(np.median(values)) if values else None
        n_ai[key] = len(values)
        grades = [r[f"ihdi_{s}"] for r in measured for s in sides]
        counts[key] = {GRADE_NAMES[grade]: sum(g == grade for g in grades) for grade in GRADES}
        counts[key][GRADE_NAMES[UNGRADABLE]] = sum(g is None for g in grades)
    return {
        "files": len(records), "measured": len(measured), "unreadable": len(records) - len(measured),
        "ai_median": medians, "ai_n": n_ai, "ihdi_counts": counts,
        "flagged": {r["file"]: r["flags"] for r in measured if r["flags"]},
        "errors": {r["file"]: r["error"] for r in records if r["error"]},
    }


CSV_COLUMNS = ("file", "image_id", "format", "schema", "width", "height", "size_from", "h_width_px",
               "ai_left", "ai_right", "ihdi_left", "ihdi_right", "ihdi_x_left", "ihdi_y_left",
               "ihdi_x_right", "ihdi_y_right", "ungradable_left", "ungradable_right", "flags", "error")


def write_output(path: Path, records: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    """Write ``records`` as CSV (one row per file) or JSON (records and summary) by ``path``'s suffix.

    Examples:
        >>> import tempfile, json
        >>> p = Path(tempfile.mkdtemp()) / "out.json"
        >>> write_output(p, [], {"files": 0}); json.loads(p.read_text())["summary"]
        {'files': 0}
    """
    import csv
    import json

    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".json":
        path.write_text(json.dumps({"records": records, "summary": summary}, indent=2) + "\n")
    elif suffix == ".csv":
        with open(path, "w", newline="") as handle:
            extra = list(dict.fromkeys(f"{name}_{side}" for r in records for name in r.get("measure_titles", {})
                                       for side in SIDES))
            columns = [*CSV_COLUMNS[:-2], *extra, *CSV_COLUMNS[-2:]]
            writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            for r in records:
                row = {c: r.get(c) for c in columns}
                row["flags"] = ";".join(r.get("flags", []))
                writer.writerow({k: "" if v is None else v for k, v in row.items()})
    else:
        raise click.BadParameter(f"{path}: --out must end in .csv or .json")


def _fmt_ai(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _table(records: Sequence[dict[str, Any]]) -> str:
    from tabulate import tabulate

    titles = {name: title for r in records for name, title in r.get("measure_titles", {}).items()}
    rows = []
    for r in records:
        if r["error"]:
            notes = f"NOT MEASURED: {r['error']}"
        else:
            notes = "; ".join([f"{s} ungradable: {r[f'ungradable_{s}']}" for s in SIDES if r[f"ungradable_{s}"]]
                              + r["flags"])
        rows.append([Path(r["file"]).name, _fmt_ai(r.get("ai_left")), _fmt_ai(r.get("ai_right")),
                     GRADE_NAMES.get(r.get("ihdi_left"), "-"), GRADE_NAMES.get(r.get("ihdi_right"), "-"),
                     *_extra_cells(r, titles), notes])
    extra = [f"{title} {side}" for title in titles.values() for side in ("L", "R")]
    return tabulate(rows, headers=["file", "AI left", "AI right", "IHDI left", "IHDI right", *extra, "notes"],
                    disable_numparse=True)


def _extra_cells(record: dict[str, Any], titles: dict[str, str]) -> list[str]:
    cells = []
    for name in titles:
        for side in SIDES:
            value = record.get(f"{name}_{side}")
            cells.append("-" if value is None else f"{value:.1f}" if isinstance(value, float) else str(value))
    return cells


def _summary_text(s: dict[str, Any]) -> str:
    med, n = s["ai_median"], s["ai_n"]
    lines = [f"Measured {s['measured']} of {s['files']} files"
             + (f" ({s['unreadable']} could not be read)" if s["unreadable"] else "") + ".",
             f"AI median (degrees): left {_fmt_ai(med['left'])} (n={n['left']}), right {_fmt_ai(med['right'])} "
             f"(n={n['right']}), both {_fmt_ai(med['both'])} (n={n['both']})"]
    for key in ("left", "right", "both"):
        c = s["ihdi_counts"][key]
        names = [GRADE_NAMES[g] for g in (*GRADES, UNGRADABLE)]
        lines.append(f"IHDI grades {key:>5}: " + ", ".join(f"{name} {c[name]}" for name in names))
    lines.append(f"Flagged for review: {len(s['flagged'])} files"
                 + (" (worth a second look; not diagnoses)" if s["flagged"] else ""))
    lines += [f"  {Path(f).name}: {', '.join(flags)}" for f, flags in s["flagged"].items()]
    if s["errors"]:
        lines.append(f"Could not be measured: {len(s['errors'])} files")
        lines += [f"  {Path(f).name}: {e}" for f, e in s["errors"].items()]
    return "\n".join(lines)


@click.command("measure")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", default="auto", show_default=True,
              help="Annotation format: auto (detected from the extension and content) or a dataset format "
                   "(`hipbench list datasets`).")
@click.option("--image-size", "image_size", metavar="WxH",
              help="Image size for normalised labels (YOLO-pose) when no image is found beside the file.")
@click.option("--sizes", "sizes_csv", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="CSV of per-file image sizes (name, width, height; or a manifest with inferred_width/"
                   "inferred_height); overrides --image-size for the files it lists.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the per-image results to FILE.csv or FILE.json (JSON adds the summary).")
@click.option("--strict", is_flag=True, help="Exit 1 when any file cannot be measured or any hip is ungradable.")
def measure_command(paths: tuple[Path, ...], fmt: str, image_size: str | None, sizes_csv: Path | None,
                    out: Path | None, strict: bool) -> None:
    """Measure acetabular index and IHDI grade (image left/right) of annotation files PATH...

    Prints one row per file (files that cannot be read are listed with the reason, never skipped),
    then a summary: AI medians, IHDI grade counts and files flagged for review.
    """
    default_size = parse_size(image_size)
    if fmt != "auto":
        from hipbench.data.dataset import DatasetError
        from hipbench.data.formats import get_format

        try:
            get_format(fmt)
        except DatasetError as exc:
            raise click.BadParameter(str(exc), param_hint="--format") from None
    sizes = read_sizes(sizes_csv) if sizes_csv else {}
    if out is not None and out.suffix.lower() not in (".csv", ".json"):
        raise click.BadParameter(f"{out}: --out must end in .csv or .json", param_hint="--out")
    records = [measure_file(p, fmt, sizes.get(p.stem, default_size)) for p in paths]
    flag_batch_outliers(records)
    summary = summarise(records)
    click.echo(_table(records))
    click.echo()
    click.echo(_summary_text(summary))
    if out is not None:
        write_output(out, records, summary)
        click.echo(f"\nWrote {len(records)} rows to {out}")
    for r in records:
        if r["error"]:
            click.echo(f"error: {r['error']}", err=True)
    ungradable = any(r.get(f"ungradable_{s}") for r in records for s in SIDES)
    if strict and (summary["unreadable"] or ungradable):
        raise SystemExit(1)

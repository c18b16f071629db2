"""Leaderboard rendering: the same rows as Markdown, CSV and HTML."""

from __future__ import annotations

import html as html_lib
import math
import os
from pathlib import Path
from typing import Any

from hipbench.leaderboard.build import _sdr_value

COLUMNS = ["rank", "dataset", "detector", "backbone", "weights", "neck", "head", "loss", "params (M)",
           "NME % (mean ± std)",
           "MRE px", "SDR %", "AI MAE °", "AI LoA °", "AI ICC", "IHDI acc", "IHDI κw", "screen sens", "screen spec",
           "coverage", "det mAP50", "det miss %", "train min", "infer ms/img"]


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def _pooled(row: dict[str, Any], key: str) -> Any:
    return (row.get("pooled") or {}).get(key)


def _coverage(pooled: dict[str, Any]) -> str:
    """Hips with a prediction, as ``covered/total (share)``."""
    total, missed = pooled.get("n_hips"), pooled.get("n_hips_missed")
    share = f"{_fmt(100 * pooled['coverage_hips'], 1)}%"
    return f"{int(total - missed)}/{int(total)} ({share})" if total is not None and missed is not None else share


def table_rows(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Display strings per row in :data:`COLUMNS` order; failed rows say so (and why) in the NME column."""
    out = []
    for row in rows:
        pooled = row.get("pooled") or {}
        _, sdr = _sdr_value(pooled)
        cells = {"rank": str(row["rank"]), "dataset": row["dataset"], "detector": row["detector"],
                 "backbone": row["backbone"], "weights": row["weights"], "neck": row["neck"], "head": row["head"],
                 "loss": row["loss"]}
        if row["status"] != "ok":
            reason = (row.get("error") or "").splitlines()[0][:140] if row.get("error") else ""
            cells["NME % (mean ± std)"] = f"FAILED ({row['folds_ok']}/{row['folds_total']} folds ok): {reason}"
            out.append({c: cells.get(c, "") for c in COLUMNS})
            continue
        loa = (_pooled(row, "ai_loa_low"), _pooled(row, "ai_loa_high"))
        coverage = _pooled(row, "coverage_hips")
        cells.update({
            "params (M)": _fmt(row.get("params_m"), 2),
            "NME % (mean ± std)": f"{_fmt(row.get('nme'))} ± {_fmt(row.get('nme_std'))}",
            "MRE px": _fmt(_pooled(row, "mre_px")),
            "SDR %": _fmt(sdr, 1),
            "AI MAE °": _fmt(_pooled(row, "ai_mae")),
            "AI LoA °": f"[{_fmt(loa[0], 1)}, {_fmt(loa[1], 1)}]",
            "AI ICC": _fmt(_pooled(row, "ai_icc"), 3),
            "IHDI acc": _fmt(_pooled(row, "ihdi_accuracy"), 3),
            "IHDI κw": _fmt(_pooled(row, "ihdi_kappa_qw"), 3),
            "screen sens": _fmt(_pooled(row, "screening_sensitivity"), 3),
            "screen spec": _fmt(_pooled(row, "screening_specificity"), 3),
            "coverage": _coverage(pooled) if isinstance(coverage, float) else "–",
            "det mAP50": _fmt(row.get("det_map50"), 3),
            "det miss %": _fmt(100 * row["det_miss_rate"], 1) if "det_miss_rate" in row else "–",
            "train min": _fmt(row.get("train_minutes"), 2),
            "infer ms/img": _fmt(row.get("infer_ms"), 1),
        })
        out.append(cells)
    return out


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Machine-readable rows: identity, fold-mean figures and every scalar pooled metric."""
    out = []
    for row in rows:
        base = {k: row.get(k) for k in ("rank", "dataset", "detector", "backbone", "weights", "neck", "head", "loss",
                                        "status", "folds_ok", "folds_total", "params_m", "nme", "nme_std", "train_minutes",
                                        "infer_ms", "det_map50", "det_miss_rate", "det_missed", "error")}
        pooled = {f"pooled_{k}": v for k, v in (row.get("pooled") or {}).items()
                  if isinstance(v, (int, float, str)) or v is None}
        out.append(base | pooled)
    return out


def _header_lines(run_info: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    normaliser = next((r["pooled"].get("normaliser") for r in rows if r.get("pooled")), None)
    sdr_name = next((_sdr_value(r["pooled"])[0] for r in rows if r.get("pooled")), "SDR")
    bench = run_info.get("benchmark_file") or run_info.get("name", "")
    return [
        f"Benchmark `{run_info.get('name', '?')}` — command: `hipbench run {bench}`",
        f"Machine: {run_info.get('machine', '?')}; device: {run_info.get('device', '?')}; "
        f"hipbench {run_info.get('hipbench', '?')}",
        f"NME normaliser: {normaliser or 'see metrics'}. NME is mean ± std over folds; MRE, SDR ({sdr_name}), "
        "AI and IHDI columns are pooled out-of-fold. Rank by NME; failed cells are listed as failed.",
        "Weights column: what each backbone started from (a pretrained hub tag, a checkpoint file with its "
        "sha256, or scratch); the weights are part of every cell's hash.",
        "Detector column: which boxes the test crops came from. Every model trains on crops of the labelled "
        "hips; with a learned detector each model is also scored on the labelled boxes ('gt (oracle boxes)' "
        "rows), which isolates the detector's cost. det mAP50 / det miss % are the detector's on the test "
        "folds (fold means); a missed hip follows the run's miss policy and counts against coverage unless "
        "that policy measures it from the mirrored box of the other hip.",
    ]


def markdown(table: list[dict[str, str]], run_info: dict[str, Any], rows: list[dict[str, Any]]) -> str:
    """The leaderboard as a Markdown document with the run's command and machine in its header."""
    lines = [f"# Leaderboard: {run_info.get('name', 'run')}", ""]
    lines += [f"- {line}" for line in _header_lines(run_info, rows)]
    lines += ["", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for cells in table:
        lines.append("| " + " | ".join(cells[c].replace("|", "\\|") for c in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def html(table: list[dict[str, str]], run_info: dict[str, Any], rows: list[dict[str, Any]],
         plots: dict[str, dict[str, Path]], run_dir: Path) -> str:
    """A self-contained HTML page: the table, then each combination's plots (relative links)."""
    esc = html_lib.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(cells[c])}</td>" for c in COLUMNS) + "</tr>" for cells in table)
    sections = []
    for row in rows:
        images = plots.get(row["key"])
        if not images:
            continue
        figs = "".join(
            f'<figure><img src="{esc(os.path.relpath(p, run_dir))}" alt="{esc(name)}"><figcaption>{esc(name)}'
            "</figcaption></figure>" for name, p in images.items())
        title = (f"{row['rank']}. {row['backbone']} / {row['head']} / {row['loss']} ({row['dataset']}; "
                 f"detector {row['detector']})")
        sections.append(f"<section><h2>{esc(title)}</h2><div class='figs'>{figs}</div></section>")
    header = "".join(f"<p>{esc(line)}</p>" for line in _header_lines(run_info, rows))
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse;font-size:13px}"
             "td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}th{background:#eee}"
             ".figs{display:flex;flex-wrap:wrap;gap:8px}figure{margin:0}img{height:240px}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Leaderboard {esc(run_info.get('name', ''))}"
            f"</title><style>{style}</style></head><body><h1>Leaderboard: {esc(run_info.get('name', 'run'))}</h1>"
            f"{header}<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{''.join(sections)}"
            "</body></html>\n")

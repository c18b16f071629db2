"""What equal tuning changed: each combination of a run with its defaults paired with the same combination of a
tuned run (same dataset and split, so the same patients), with the leaderboard's own paired statistics.

    .venv/bin/python benchmarks/tuning_effect.py leaderboard/heads_small leaderboard/heads_tuned

Prints a Markdown table: the rank and pooled NME of each combination under defaults and tuned, the tuned minus
default NME difference with its patient-bootstrap 95 % CI (2,000 resamples of patients, seed 0) and the
Wilcoxon signed-rank p on per-patient differences, Holm-corrected across the combinations, the tuning cost and
the values chosen per fold. A CI that excludes 0 is a change beyond noise.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from hipbench.leaderboard.build import ranked_rows
from hipbench.metrics.paired import compare, holm
from hipbench.metrics.resampling import patient_sums

IDENTITY = ("dataset", "framing", "detector", "backbone", "neck", "head", "loss")


def _model_rows(run: Path) -> dict[tuple[Any, ...], dict[str, Any]]:
    rows = [r for r in ranked_rows(run) if not r.get("baseline") and r.get("pooled_arrays") is not None]
    for rank, row in enumerate(sorted(rows, key=lambda r: r["pooled"]["nme"]), 1):
        row["model_rank"] = rank
    return {tuple(r.get(k) for k in IDENTITY): r for r in rows}


def _sums(row: dict[str, Any]) -> Any:
    arrays = row["pooled_arrays"]
    patients = arrays.get("patient_id", arrays["image_id"])
    return patient_sums(arrays["pred"], arrays["gt"], arrays["schema"], arrays.get("group_id", patients))


def effect_table(default_run: Path, tuned_run: Path) -> list[str]:
    defaults, tuned = _model_rows(default_run), _model_rows(tuned_run)
    shared = [k for k in defaults if k in tuned]
    if not shared:
        raise SystemExit(f"no combination of {default_run} is also in {tuned_run}")
    comparisons = [compare(_sums(tuned[k]), _sums(defaults[k]), "nme") for k in shared]
    adjusted = holm([c.p_wilcoxon for c in comparisons])
    lines = ["| combination | rank, defaults | rank, tuned | NME % defaults | NME % tuned | tuned − defaults "
             "[95% CI] | Wilcoxon p (Holm) | beyond noise | tuning | chosen values (per fold) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for key, c, p in sorted(zip(shared, comparisons, adjusted), key=lambda t: tuned[t[0]]["model_rank"]):
        d, t = defaults[key], tuned[key]
        beyond = "yes" if c.computed and (c.low > 0 or c.high < 0) else "no"
        name = f"{t['backbone']} / {t['head']}" + ("" if t.get("loss") in (None, "default") else f" / {t['loss']}")
        lines.append(f"| {name} | {d['model_rank']} | {t['model_rank']} | {d['pooled']['nme']:.2f} | "
                     f"{t['pooled']['nme']:.2f} | {c.difference:+.2f} [{c.low:+.2f}, {c.high:+.2f}] | "
                     f"{_p(p)} | {beyond} | {t.get('tuning', '-')} | {t.get('tuned_values') or '-'} |")
    return lines


def _p(p: float) -> str:
    return "n/a" if not math.isfinite(p) else f"{p:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("default_run", type=Path, help="run (or exported leaderboard) with default settings")
    parser.add_argument("tuned_run", type=Path, help="the same grid run with a tune: block")
    args = parser.parse_args()
    print("\n".join(effect_table(args.default_run, args.tuned_run)))


if __name__ == "__main__":
    main()

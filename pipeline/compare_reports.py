"""Is one model set better than another on the same films, or is the difference the films' noise?

    python -m pipeline.compare_reports BEFORE.json AFTER.json [--out COMPARISON.json] [--resamples N]

BEFORE and AFTER are two reports of ``python -m pipeline.evaluate`` on the same annotated films (two model sets,
or two settings). Each figure is compared on the films both reports hold it for, film by film: the difference
(after - before) and its 95 % interval when the films are resampled in pairs (bootstrap, BCa;
:func:`spine.research.metrics.paired_difference`). Corner errors and Dice are weighted by each film's corners and
vertebrae, so each side's mean is its report's own figure on the shared films. A difference whose interval holds 0
is within what these films can tell apart. A share of films (named right or not) is judged by the films that
changed each way (exact McNemar test), since a bootstrap interval is too narrow when only a few change.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spine.files import atomic_write_json
from spine.research.metrics import paired_difference, paired_shares


@dataclass(frozen=True)
class Figure:
    label: str
    section: tuple[str, ...]  # where the per_film rows sit in a report
    key: str  # the figure in a film's row
    weight: str | None = None  # the row's count it is weighted by (None: each film counts once)
    lower_is_better: bool = True
    yes_no: bool = False  # a share of films (each film 1 or 0): judged by the films that changed (McNemar)


FIGURES = (
    Figure("corners, detector's boxes: mean px", ("corners", "cascade"), "mean_px", "corners"),
    Figure("corners, true boxes: mean px", ("corners", "oracle"), "mean_px", "corners"),
    Figure("Dice, detector's boxes", ("segmentation", "cascade"), "dice_mean", "vertebrae", False),
    Figure("Dice, true boxes", ("segmentation", "oracle"), "dice_mean", "vertebrae", False),
    Figure("AASCE SMAPE % as measured, detector's boxes", ("cobb_measured", "cascade"), "aasce_smape"),
    Figure("AASCE SMAPE % as measured, true boxes", ("cobb_measured", "oracle"), "aasce_smape"),
    Figure("AASCE SMAPE %, films with all 17 found", ("corners", "cascade"), "aasce_smape"),
    Figure("clinical major-curve error deg, detector's boxes", ("cobb_measured", "cascade"), "major_curve_error_deg"),
    Figure("clinical major-curve error deg, true boxes", ("cobb_measured", "oracle"), "major_curve_error_deg"),
    Figure("films with all levels right (share)", ("naming",), "all_right", None, False, True),
    Figure("films all named right, names alone (share)", ("naming",), "all_named_right", None, False, True),
)


def per_film(report: dict, section: tuple[str, ...]) -> dict:
    node = report
    for part in section:
        node = node.get(part) if isinstance(node, dict) else None
    return (node.get("per_film") or {}) if isinstance(node, dict) else {}


def _value(row: dict, key: str):
    value = row.get(key)
    return None if value is None else float(value)


def compare_figure(before: dict, after: dict, figure: Figure, resamples: int = 9999) -> dict | None:
    """One figure compared on the films both reports hold it for; None when no film does."""
    a, b = per_film(before, figure.section), per_film(after, figure.section)
    held_a, held_b = ({f for f, row in rows.items() if _value(row, figure.key) is not None} for rows in (a, b))
    films = sorted(held_a & held_b)
    if not films:
        return None

    def column(rows: dict, key: str | None):
        return None if key is None else np.array([float(rows[f][key]) for f in films])

    out = paired_difference(column(a, figure.key), column(b, figure.key), column(a, figure.weight), column(b, figure.weight),
                            resamples)
    if figure.yes_no:
        out.update(paired_shares(column(a, figure.key), column(b, figure.key)))
    return {"figure": figure.label, **out, "films_in_one_only": len(held_a ^ held_b), "lower_is_better": figure.lower_is_better}


def compare_reports(before: dict, after: dict, resamples: int = 9999) -> list[dict]:
    """Every figure of :data:`FIGURES` the two reports hold per film, compared film by film."""
    if before.get("data") and after.get("data") and before["data"] != after["data"]:
        raise ValueError(f"the reports are on different data: {before['data']} and {after['data']}")
    rows = [compare_figure(before, after, figure, resamples) for figure in FIGURES]
    return [r for r in rows if r is not None]


def _num(x, digits=3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def verdict(row: dict) -> str:
    """'better' or 'worse' where the interval leaves 0 out (a share of films: McNemar p < 0.05), else 'within noise'."""
    noise = row["p_mcnemar"] >= 0.05 if "p_mcnemar" in row else row["ci95"] is None or row["ci95"][0] <= 0 <= row["ci95"][1]
    if noise:
        return "within noise"
    better = (row["difference"] < 0) == row["lower_is_better"]
    return "better" if better else "worse"


def markdown(rows: list[dict], before: str, after: str) -> str:
    lines = [f"Before: {before}", f"After: {after}", "",
             "| figure | films | before | after | after - before | 95 % interval | |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        ci = "-" if r["ci95"] is None else f"{_num(r['ci95'][0])} to {_num(r['ci95'][1])}"
        if "p_mcnemar" in r:
            ci = f"films better / worse {r['films_better']} / {r['films_worse']}, McNemar p {_num(r['p_mcnemar'], 2)}"
        lines.append(f"| {r['figure']} | {r['films']} | {_num(r['before'])} | {_num(r['after'])} | {_num(r['difference'])} | {ci} | "
                     f"{verdict(r)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.compare_reports", description=__doc__.split("\n")[0])
    parser.add_argument("before", help="report JSON of pipeline.evaluate (the reference)")
    parser.add_argument("after", help="report JSON of pipeline.evaluate on the same films (the arm)")
    parser.add_argument("--out", help="also write the comparison as JSON here")
    parser.add_argument("--resamples", type=int, default=9999, help="bootstrap resamples (default 9999)")
    args = parser.parse_args(argv)
    reports = []
    for path in (args.before, args.after):
        try:
            reports.append(json.loads(Path(path).read_text()))
        except (OSError, ValueError) as exc:
            print(f"error: {path}: {exc}", file=sys.stderr)
            return 2
    try:
        rows = compare_reports(*reports, resamples=args.resamples)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not rows:
        print("error: the reports hold no per-film figures in common (reports of pipeline.evaluate before 2026-11-28 "
              "carry none: evaluate again)", file=sys.stderr)
        return 2
    if args.out:
        atomic_write_json(args.out, {"before": args.before, "after": args.after, "figures": rows})
    print(markdown(rows, args.before, args.after))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Re-measure a ``spine-geometry/1`` result (e.g. after correcting a point by hand), or compare two.

    python -m pipeline.measure RESULT.json [--compare OTHER.json] [--out OUT.json]
"""

from __future__ import annotations

import argparse
import sys

from spine.files import atomic_write_json
from spine.measures import MeasureOptions, compare
from spine.measures.compare import angles_only
from spine.remeasure import measure_result
from spine.result import SpineResult, read_result, to_dict


class NotComparable(ValueError):
    """Two results that must not be subtracted (two patients); the message says why."""


def comparison(earlier: SpineResult, later: SpineResult, force: bool = False) -> dict:
    """``later - earlier`` (:func:`compare`), refused for two patients' films (their ``patient_key`` differs) unless
    ``force``; lengths are left out, with a flag, when one result is in px and the other in mm."""
    a, b = earlier.image.patient_key, later.image.patient_key
    if a and b and a != b and not force:
        raise NotComparable("the two results are of different patients (Patient ID differs); --force compares them anyway")
    units = (earlier.measurements.get("units"), later.measurements.get("units"))
    if units[0] == units[1]:
        return compare(earlier.measurements, later.measurements)
    diff = compare(angles_only(earlier.measurements), angles_only(later.measurements))
    diff["flags"].insert(0, f"lengths not compared: one result is in {units[0]}, the other in {units[1]} (give both a pixel spacing)")
    return diff


def _fmt(value, digits: int = 1) -> str:
    return "-" if value is None else (f"{value:.{digits}f}" if isinstance(value, float) else str(value))


def format_table(result: SpineResult) -> str:
    """A readable summary of a result's measurements."""
    m, units = result.measurements, result.measurements.get("units", "px")
    lines = [f"{result.image.path}  view {result.image.view}  units {units}"]
    for curve in m.get("cobb") or []:
        lines.append(
            f"  Cobb {curve['angle_deg']:5.1f} deg  {curve['upper']}-{curve['lower']}  apex {curve['apex']}  "
            f"{curve['region']}  convex image-{curve['direction']}"
        )
    if m.get("aasce_cobb_deg"):
        lines.append("  AASCE Cobb (angles.csv order): " + ", ".join(f"{a:.1f}" for a in m["aasce_cobb_deg"]))
    for key in ("lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg", "cervical_lordosis_deg"):
        if m.get(key) is not None:
            lines.append(f"  {key.replace('_deg', '').replace('_', ' ')}: {m[key]:.1f} deg")
    if m.get("per_vertebra"):
        lines.append("  level   h_ant  h_mid  h_post  h_left h_right  wedge  tilt  genant")
        for level, v in m["per_vertebra"].items():
            cells = [
                _fmt(v[k])
                for k in (
                    "height_anterior",
                    "height_middle",
                    "height_posterior",
                    "height_left",
                    "height_right",
                    "wedge_deg",
                    "tilt_deg",
                    "genant_grade",
                )
            ]
            lines.append(f"  {level:6s}" + "".join(f"{c:>7s}" for c in cells))
    if m.get("per_disc"):
        lateral = m.get("view") == "LAT"
        lines.append("  disc      angle  slip%  " + ("Meyerding" if lateral else "side"))
        for name, d in m["per_disc"].items():
            last = _fmt(d["meyerding_grade"]) if lateral else (d.get("slip_direction") or "-").replace("lateral-", "")
            lines.append(f"  {name:8s}{_fmt(d['angle_deg']):>7s}{_fmt(d['slip_percent']):>7s}{last:>7s}")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines)


def format_comparison(diff: dict) -> str:
    lines = [
        f"  {key:55s} {d['earlier']:9.2f} -> {d['later']:9.2f}  ({d['change']:+.2f})"
        for key, d in diff["differences"].items()
        if abs(d["change"]) > 1e-9
    ]
    lines += [f"  FLAG: {flag}" for flag in diff["flags"]]
    return "\n".join(lines) if lines else "  no differences"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.measure", description=__doc__.strip().splitlines()[0])
    parser.add_argument("result", help="a spine-geometry/1 JSON file (written by pipeline.infer, possibly edited by hand)")
    parser.add_argument(
        "--compare",
        metavar="OTHER",
        help="an earlier result of the same patient: print RESULT - OTHER for every measurement and flag Cobb changes >= 5 deg",
    )
    parser.add_argument(
        "--out",
        metavar="OUT",
        help="write the re-measured result (and the comparison, if any) to this JSON file instead of printing a table",
    )
    parser.add_argument("--force", action="store_true", help="compare even when the two results are of different patients")
    parser.add_argument("--min-curve-deg", type=float, default=5.0, help="smallest secondary Cobb curve to report (default 5)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opts = MeasureOptions(min_curve_deg=args.min_curve_deg)
    try:
        result = measure_result(read_result(args.result), opts)
        other = measure_result(read_result(args.compare), opts) if args.compare else None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        print(f"error: cannot read result: {' '.join(str(reason).split())}", file=sys.stderr)
        return 2
    try:
        diff = comparison(other, result, args.force) if other else None
    except NotComparable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out:
        payload = to_dict(result)
        if diff is not None:
            payload["comparison"] = {"earlier": args.compare, **diff}
        atomic_write_json(args.out, payload)
        print(f"wrote {args.out}")
    else:
        print(format_table(result))
        if diff is not None:
            print(f"\nchanges since {args.compare}:\n" + format_comparison(diff))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Differences between two measurement blocks of the same patient (e.g. before and after treatment)."""

from __future__ import annotations

COBB_CHANGE_DEG = 5.0  # inter-observer error of manual Cobb measurement


def flatten(measurements: dict) -> dict[str, float]:
    """Numeric leaves keyed by dotted path; Cobb curves keyed by region (and 'major' for the largest)."""
    flat: dict[str, float] = {}
    for i, curve in enumerate(measurements.get("cobb") or []):
        keys = (["major"] if i == 0 else []) + ([curve["region"]] if curve.get("region") else [f"curve{i + 1}"])
        for key in keys:
            flat.setdefault(f"cobb.{key}.angle_deg", float(curve["angle_deg"]))
    for i, angle in enumerate(measurements.get("aasce_cobb_deg") or []):
        flat[f"aasce_cobb_deg.{i}"] = float(angle)
    _walk({k: v for k, v in measurements.items() if k not in ("cobb", "aasce_cobb_deg")}, "", flat)
    return flat


def _walk(node, prefix: str, flat: dict) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            _walk(value, f"{prefix}{key}.", flat)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        flat[prefix[:-1]] = float(node)


LENGTH_WORDS = ("height", "length", "distance", "width", "offset", "translation", "_mm", "_px")
UNITLESS_ENDINGS = ("_ratio", "_loss", "_deg", "_percent", "_grade")


def angles_only(measurements: dict) -> dict:
    """The measurements without lengths (heights, distances, offsets): what two results in different units still
    share. Angles, ratios, grades and percentages stay."""
    def keep(key: str) -> bool:
        return key.endswith(UNITLESS_ENDINGS) or not any(word in key for word in LENGTH_WORDS)

    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if keep(str(k))}
        return node

    return strip(measurements)


def is_cobb_key(key: str) -> bool:
    return key.startswith("cobb.") or key.startswith("aasce_cobb_deg.")


def compare(earlier: dict, later: dict, cobb_change_deg: float = COBB_CHANGE_DEG) -> dict:
    """later - earlier for every measurement both have; flags Cobb changes of ``cobb_change_deg`` or more.

    Returns {"differences": {key: {"earlier", "later", "change"}}, "flags": [str], "only_in_earlier": [...],
    "only_in_later": [...]}.
    """
    a, b = flatten(earlier), flatten(later)
    differences, flags = {}, []
    for key in sorted(set(a) & set(b)):
        change = b[key] - a[key]
        differences[key] = {"earlier": a[key], "later": b[key], "change": change}
        if is_cobb_key(key) and abs(change) >= cobb_change_deg:
            flags.append(f"{key} changed by {change:+.1f} deg (>= {cobb_change_deg:g} deg: beyond measurement error)")
    return {
        "differences": differences,
        "flags": flags,
        "only_in_earlier": sorted(set(a) - set(b)),
        "only_in_later": sorted(set(b) - set(a)),
    }

"""A result measured afresh from its geometry (after a reader moved a point, or as the pipeline's last step)."""

from __future__ import annotations

from datetime import datetime, timezone

from spine.geometry import anatomical_order
from spine.measures import MeasureOptions, measure_spine
from spine.radiograph import SPACING_RANGE_MM, plausible_spacing
from spine.result import SpineResult, Verification

MEASURE_PREFIX = "measure: "


def measure_result(result: SpineResult, opts: MeasureOptions = MeasureOptions()) -> SpineResult:
    """The result with its vertebrae in anatomical order and fresh measurements; earlier measurement warnings
    replaced, other warnings kept, those a reader settled (``resolved``) not raised again. A pixel spacing no
    radiograph has is not used (lengths in px, with a warning)."""
    spine, _ = anatomical_order(result.spine)
    source = f"the result's spacing_mm ({result.image.spacing_source or 'source not recorded'})"
    spacing = spine.spacing_mm
    dropped = spacing is not None and not plausible_spacing(spacing)
    if dropped:
        spine = spine.with_(spacing_mm=None)
    measurements, warnings = measure_spine(spine, image_height=result.image.height, opts=opts)
    if dropped:
        warnings = [f"{source} {spacing[0]:g} x {spacing[1]:g} mm is outside {SPACING_RANGE_MM[0]}-{SPACING_RANGE_MM[1]} mm: "
                    "not used, lengths are in pixels"] + list(warnings)
    kept = tuple(w for w in result.warnings if not w.startswith(MEASURE_PREFIX))
    settled = {warning for warning, _ in result.resolved}
    fresh = tuple(w for w in kept + tuple(MEASURE_PREFIX + w for w in warnings) if w not in settled)
    return result.with_(spine=spine, measurements=measurements, warnings=fresh)


def verified(result: SpineResult, by: str, at: str | None = None) -> SpineResult:
    """``result`` re-measured and marked checked by reader ``by`` at ``at`` (ISO 8601 UTC; default now): every
    warning left is settled by the reader (kept in ``resolved`` with who and when), so it no longer shows."""
    by = " ".join(str(by).split())[:200]
    if not by:
        raise ValueError("a verification needs the reader's name")
    stamp = Verification(by, at or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    result = measure_result(result)
    return result.with_(verified=stamp, resolved=result.resolved + tuple((w, stamp) for w in result.warnings), warnings=())

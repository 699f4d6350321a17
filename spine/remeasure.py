"""A result measured afresh from its geometry (after a reader moved a point, or as the pipeline's last step)."""

from __future__ import annotations

from spine.geometry import anatomical_order
from spine.measures import MeasureOptions, measure_spine
from spine.radiograph import SPACING_RANGE_MM, plausible_spacing
from spine.result import SpineResult

MEASURE_PREFIX = "measure: "


def measure_result(result: SpineResult, opts: MeasureOptions = MeasureOptions()) -> SpineResult:
    """The result with its vertebrae in anatomical order and fresh measurements; earlier measurement warnings
    replaced, other warnings kept. A pixel spacing no radiograph has is not used (lengths in px, with a warning)."""
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
    return result.with_(spine=spine, measurements=measurements, warnings=kept + tuple(MEASURE_PREFIX + w for w in warnings))

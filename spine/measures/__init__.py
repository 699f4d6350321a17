"""Clinical measurements as pure functions of a :class:`~spine.geometry.Spine`."""

from spine.measures.aasce import aasce_cobb, cmae, smape
from spine.measures.compare import compare
from spine.measures.core import MeasureOptions, measure_spine

__all__ = ["MeasureOptions", "aasce_cobb", "cmae", "compare", "measure_spine", "smape"]

"""Clinical measurements as pure functions of a :class:`~pipeline.lib.geometry.Spine`."""

from pipeline.lib.measures.aasce import aasce_cobb, cmae, smape
from pipeline.lib.measures.compare import compare
from pipeline.lib.measures.core import MeasureOptions, measure_spine

__all__ = ["MeasureOptions", "aasce_cobb", "cmae", "compare", "measure_spine", "smape"]

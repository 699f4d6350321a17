"""Clinical measurements as pure functions of a :class:`~pipeline.geometry.Spine`."""

from pipeline.measures.aasce import aasce_cobb, cmae, smape
from pipeline.measures.compare import compare
from pipeline.measures.core import MeasureOptions, measure_spine

__all__ = ["MeasureOptions", "aasce_cobb", "cmae", "compare", "measure_spine", "smape"]

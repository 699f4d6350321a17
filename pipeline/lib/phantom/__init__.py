"""Synthetic AP and lateral spine films with exact ground truth, for tests and the offline demo.

Not a substitute for real data in evaluation: the anatomy is schematic.
"""

from pipeline.lib.phantom.make import Phantom, make_phantom
from pipeline.lib.phantom.spec import PhantomSpec
from pipeline.lib.phantom.write import write_phantom

__all__ = ["Phantom", "PhantomSpec", "make_phantom", "write_phantom"]

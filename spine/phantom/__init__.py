"""Synthetic AP and lateral spine films with exact ground truth, for tests and the offline demo.

Not a substitute for real data in evaluation: the anatomy is schematic.
"""

from spine.phantom.make import Phantom, make_phantom
from spine.phantom.spec import PhantomSpec
from spine.phantom.write import sample_film, write_phantom

__all__ = ["Phantom", "PhantomSpec", "make_phantom", "sample_film", "write_phantom"]

"""Spine radiograph measurement: shared vocabulary, I/O, priors, measures and the end-to-end tools.

Importing this package first makes every third-party library work offline
(see :mod:`pipeline.offline`); stage packages import it before ultralytics.
"""

from pipeline.offline import configure as _configure_offline

_configure_offline()

__version__ = "0.1.0"

"""Spine radiograph measurement: the tools (infer, measure, evaluate, train_all, ablate, review, node, demo) over
the library in :mod:`pipeline.lib` (geometry, I/O, result schema, config, measures, metrics, phantoms, datasets).

Importing it changes nothing: each command's ``main()`` sets the libraries offline (:mod:`pipeline.lib.offline`).
"""

from pipeline.lib import __version__  # noqa: F401

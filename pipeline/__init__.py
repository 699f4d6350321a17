"""Spine radiograph measurement: the tools (infer, measure, evaluate, train_all, ablate, review, node, demo) over
the stages (:mod:`detector`, :mod:`segmenter`, :mod:`keypoints`) and the library in :mod:`spine`.

Importing it changes nothing: each command's ``main()`` sets the libraries offline (:mod:`spine.offline`).
"""

from spine import __version__  # noqa: F401

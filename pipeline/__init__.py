"""Spine radiograph measurement: the tools (infer, measure, evaluate, train_all, ablate, review, node, demo) over
the stages (:mod:`detector`, :mod:`segmenter`, :mod:`keypoints`) and the library in :mod:`spine`.

Importing it changes nothing: each command's ``main()`` sets the libraries offline (:mod:`spine.offline`).
"""

from spine import __version__  # noqa: F401


def __getattr__(name: str):
    """``from pipeline import measure_film``: the per-film core, imported only when asked for (it loads the networks'
    libraries)."""
    if name == "measure_film":
        from pipeline.core import measure_film

        return measure_film
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")

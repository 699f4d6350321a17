"""The framer: a box-robust keypoint head whose corners re-draw each found vertebra's box (detector.predict.reframe),
held by a model set as ``framer/`` and loaded as a keypoints model folder."""

from __future__ import annotations

import numpy as np
import pytest

from detector.predict import reframe
from pipeline.lib.geometry import Box, Spine, Vertebra
from pipeline.lib.paths import DEFAULT_MODELS
from pipeline.stages import BY_NAME, load_stage


class FixedCorners:
    """A framer that reads, in every box, the corners of ``shift`` px down and ``grow`` px wider than the box."""

    def __init__(self, shift: float = 0.0, grow: float = 0.0):
        self.shift, self.grow, self.calls = shift, grow, 0

    def corners(self, pixels, boxes, outlines=None):
        self.calls += 1
        out = []
        for b in boxes:
            x1, y1, x2, y2 = b.x1 - self.grow, b.y1 + self.shift, b.x2 + self.grow, b.y2 + self.shift
            out.append(np.array([[x1, y1], [x2, y1], [x1, y2], [x2, y2]], float))
        return out


def chain() -> Spine:
    return Spine((Vertebra("T1", Box(10, 10, 50, 40), score=0.9), Vertebra("T2", Box(12, 50, 52, 82), score=0.0, inferred=True)))


def test_reframe_redraws_each_box_from_the_corners_and_keeps_the_rest():
    spine = reframe(np.zeros((100, 100), np.float32), chain(), FixedCorners(shift=4, grow=2))
    assert [v.box.as_list() for v in spine.vertebrae] == [[8, 14, 52, 44], [10, 54, 54, 86]]
    assert [(v.level, v.score, v.inferred) for v in spine.vertebrae] == [("T1", 0.9, False), ("T2", 0.0, True)]


def test_reframe_keeps_a_box_the_framer_leaves():
    spine = reframe(np.zeros((100, 100), np.float32), chain(), FixedCorners(shift=35))
    assert [v.box.as_list() for v in spine.vertebrae] == [v.box.as_list() for v in chain().vertebrae]


def test_reframe_of_an_empty_chain_runs_nothing():
    framer = FixedCorners()
    assert len(reframe(np.zeros((10, 10), np.float32), Spine(()), framer)) == 0 and framer.calls == 0


def test_the_framer_stage_loads_keypoints_folders_only(tmp_path):
    assert BY_NAME["framer"].folder_stage == "keypoints" and BY_NAME["framer"].optional
    if not (DEFAULT_MODELS / "framer" / "meta.json").exists():
        pytest.skip("no shipped framer")
    assert hasattr(load_stage("framer", DEFAULT_MODELS / "framer"), "corners")
    with pytest.raises(ValueError, match="not a keypoints model folder"):
        load_stage("framer", DEFAULT_MODELS / "levels")


def test_the_shipped_set_reframes_its_found_boxes():
    if not (DEFAULT_MODELS / "framer" / "meta.json").exists():
        pytest.skip("no shipped framer")
    from pipeline.models import ModelSet

    models = ModelSet.load()
    assert models.framer is not None and models.finder.framer is models.framer

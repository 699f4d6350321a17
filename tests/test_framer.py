"""The framer re-draws each found vertebra's box (detector.predict.reframe): a box-robust keypoint head's corners
(held by a model set as ``framer/`` and loaded as a keypoints model folder, ``reframe: framer``), or the segmenter's
outline, which the vertebra then keeps as its mask (``reframe: outline``)."""

from __future__ import annotations

import numpy as np
import pytest

from detector.predict import reframe
from pipeline.lib.geometry import Box, Polygon, Spine, Vertebra
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


class FixedOutlines:
    """A segmenter whose outline in every box is the box ``shift`` px down (None for boxes starting below ``none_below``)."""

    def __init__(self, shift: float = 0.0, none_below: float = 1e9):
        self.shift, self.none_below, self.seen = shift, none_below, []

    def outlines(self, pixels, boxes):
        self.seen.append(list(boxes))
        return [None if b.y1 >= self.none_below else
                Polygon(np.array([[b.x1, b.y1], [b.x2, b.y1], [b.x2, b.y2], [b.x1, b.y2]]) + [0, self.shift]) for b in boxes]


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


def test_reframe_from_outlines_redraws_each_box_and_keeps_the_outline_as_its_mask():
    segmenter = FixedOutlines(shift=3, none_below=45)
    spine = reframe(np.zeros((100, 100), np.float32), chain(), segmenter)
    first, second = spine.vertebrae
    assert first.box.as_list() == [10, 13, 50, 43] and np.allclose(first.mask.points[0], [10, 13])
    assert second.box.as_list() == [12, 50, 52, 82] and second.mask is None  # no outline: box kept, no mask
    assert len(segmenter.seen) == 1
    far = reframe(np.zeros((100, 100), np.float32), chain(), FixedOutlines(shift=35))  # the outline left the vertebra
    assert [v.box.as_list() for v in far.vertebrae] == [v.box.as_list() for v in chain().vertebrae]
    assert np.allclose(far.vertebrae[0].mask.points[0], [10, 45])  # still the segmenter's reading in that box: kept


def test_a_model_set_reads_outlines_only_where_no_mask_was_drawn():
    from pipeline.models import InferenceOptions, ModelSet

    segmenter = FixedOutlines(shift=3, none_below=45)
    models = ModelSet(None, segmenter, None, InferenceOptions(reframe="outline"), {}, DEFAULT_MODELS, framer=FixedCorners())
    assert models.finder.framer is segmenter
    spine = reframe(np.zeros((100, 100), np.float32), chain(), models.finder.framer)
    segmenter.none_below = 1e9  # now it outlines every box
    outlines = models.outlines(np.zeros((100, 100), np.float32), spine)
    assert outlines[0] is spine.vertebrae[0].mask and np.allclose(outlines[1].points[0], [12, 53])
    assert [b.as_list() for b in segmenter.seen[-1]] == [[12, 50, 52, 82]]  # the second call read the unmasked one only
    framer = FixedCorners()
    assert ModelSet(None, segmenter, None, InferenceOptions(reframe="none"), {}, DEFAULT_MODELS, framer=framer).finder.framer is None
    assert ModelSet(None, segmenter, None, InferenceOptions(reframe="framer"), {}, DEFAULT_MODELS, framer=framer).finder.framer is framer


def test_a_set_written_before_reframe_existed_runs_as_it_did(tmp_path):
    """Its framer re-draws the boxes where it has one, else nothing does (a framer-less ModelSet re-draws nothing)."""
    from pipeline.models import InferenceOptions, ModelSet, inference_options

    assert inference_options(tmp_path).reframe == "framer"  # no pipeline.yaml at all
    (tmp_path / "pipeline.yaml").write_text("corners: keypoints\ndefault_view: AP\n")
    assert inference_options(tmp_path).reframe == "framer"
    assert ModelSet(None, FixedOutlines(), None, inference_options(tmp_path), {}, tmp_path).finder.framer is None
    (tmp_path / "pipeline.yaml").write_text("reframe: outline\n")
    assert inference_options(tmp_path).reframe == "outline"  # said in so many words: kept
    assert InferenceOptions().reframe == "outline"  # what a new set is written with


def test_the_framer_stage_loads_keypoints_folders_only(tmp_path):
    assert BY_NAME["framer"].folder_stage == "keypoints" and BY_NAME["framer"].optional
    assert hasattr(load_stage("framer", DEFAULT_MODELS / "keypoints"), "corners")  # any keypoints folder will do
    with pytest.raises(ValueError, match="not a keypoints model folder"):
        load_stage("framer", DEFAULT_MODELS / "levels")


def test_the_shipped_set_reframes_its_found_boxes_from_the_segmenters_outlines():
    from pipeline.models import ModelSet

    models = ModelSet.load()
    assert models.options.reframe == "outline" and models.framer is None and models.finder.framer is models.segmenter


@pytest.mark.slow
def test_the_framer_trains_into_a_keypoints_model_folder_a_set_can_use(tmp_path):
    """train_all trains the framer only for ``reframe: framer``; its training is checked here on its own."""
    from keypoints.framer import main
    from pipeline.lib import config as configlib
    from pipeline.lib.paths import REPO_ROOT
    from pipeline.train_all import flatten

    tiny = configlib.read_yaml(REPO_ROOT / "configs/profiles/tiny.yaml")["framer"]
    sets = flatten(tiny) + ["train.epochs=1", "name=framer", f"output={tmp_path}", f"cache={tmp_path / 'crops'}",
                            f"data.phantom_dir={tmp_path / 'phantoms'}"]
    assert main(["--config", str(REPO_ROOT / "configs/framer.yaml")] + [a for s in sets for a in ("--set", s)]) == 0
    framer = load_stage("framer", tmp_path / "framer" / "model")
    spine = reframe(np.random.default_rng(0).random((384, 256), np.float32), chain(), framer)
    assert len(spine) == 2 and all(v.box.width > 1 for v in spine.vertebrae)


def test_the_corner_evaluation_gives_a_head_the_outlines_inference_gives_it():
    from pipeline.evaluate import corner_outlines
    from pipeline.models import InferenceOptions, ModelSet

    segmenter = FixedOutlines(shift=3, none_below=45)
    pixels = np.zeros((100, 100), np.float32)
    found = reframe(pixels, chain(), segmenter)  # the first vertebra carries its outline, the second none
    segmenter.none_below, segmenter.seen = 1e9, []
    head = FixedCorners()
    head.reads_outlines = True
    models = ModelSet(None, segmenter, head, InferenceOptions(reframe="outline"), {}, DEFAULT_MODELS)
    read = corner_outlines(models, lambda _: found)(pixels, [v.box for v in found.vertebrae])
    assert read[0] is found.vertebrae[0].mask and np.allclose(read[1].points[0], [12, 53])
    assert [b.as_list() for b in segmenter.seen[-1]] == [[12, 50, 52, 82]]  # the carried outline not read again
    oracle = corner_outlines(models)(pixels, [Box(0, 0, 20, 20)])  # true boxes: the segmenter reads each
    assert np.allclose(oracle[0].points[0], [0, 3])
    head.reads_outlines = False  # a head without a mask channel: nothing read for it
    assert corner_outlines(models, lambda _: found) is None

"""Count and ordering priors on synthetic boxes: missing, false positive, duplicate, extra level, no spine."""

from __future__ import annotations

import numpy as np
import pytest

from detector.priors import PriorsConfig, apply_priors, snap_inferred
from spine.config import ConfigError
from spine.contracts import Detection
from spine.geometry import AASCE_LEVELS, Box, Spine


def column(n: int = 17, curve: float = 0.0, top: float = 100.0) -> list[Detection]:
    """n vertebra boxes down a gently curved column, growing caudally, scores 0.9."""
    out, y = [], top
    for k in range(n):
        h, w = 28 + k, 50 + 2 * k
        x = 300 + curve * np.sin(np.pi * k / (n - 1))
        out.append(Detection(Box.from_cxcywh(x, y + h / 2, w, h), 0.9))
        y += 1.3 * h
    return out


def test_clean_column_is_named_t1_to_l5():
    spine, warnings = apply_priors(column(curve=60))
    assert spine.levels == AASCE_LEVELS and not warnings
    assert not any(v.inferred for v in spine.vertebrae)


def test_missing_vertebra_is_inferred_in_its_place():
    dets = column()
    truth = dets.pop(8)
    spine, warnings = apply_priors(dets)
    assert spine.levels == AASCE_LEVELS
    inferred = [v for v in spine.vertebrae if v.inferred]
    assert len(inferred) == 1 and inferred[0].level == AASCE_LEVELS[8]
    assert inferred[0].box.iou(truth.box) > 0.6 and inferred[0].score == 0.0
    assert any("inferred" in w for w in warnings)


def test_rib_like_false_positive_is_dropped_and_duplicate_merged():
    dets = column()
    rib = Detection(Box.from_cxcywh(420, dets[5].box.center[1] + 5, 60, 25), 0.8)
    duplicate = Detection(Box(*(np.asarray(dets[10].box.as_list()) + [3, 2, 3, 2])), 0.7)
    skull = Detection(Box(250, 0, 360, 60), 0.6)
    spine, warnings = apply_priors(dets + [rib, duplicate, skull])
    assert spine.levels == AASCE_LEVELS
    assert all(abs(v.box.center[0] - 300) < 5 for v in spine.vertebrae)
    assert any("dropped" in w for w in warnings)


def test_l6_case_yields_18_levels_with_a_warning():
    spine, warnings = apply_priors(column(18), PriorsConfig(extra_level="L6"))
    assert len(spine) == 18 and spine.levels[-2:] == ("L5", "L6")
    assert any("18 vertebrae" in w and "L6" in w for w in warnings)
    spine, _ = apply_priors(column(18), PriorsConfig(extra_level="T13"))
    assert spine.levels[12] == "T13"


def test_an_extra_faint_vertebra_at_an_end_is_named_by_anatomy():
    dets = column(18)
    faint_top = [Detection(dets[0].box, 0.3)] + dets[1:]
    spine, warnings = apply_priors(faint_top)
    assert spine.levels[0] == "C7" and spine.levels[1:] == AASCE_LEVELS
    faint_bottom = dets[:-1] + [Detection(dets[-1].box, 0.3)]
    spine, _ = apply_priors(faint_bottom)
    assert spine.levels[:-1] == AASCE_LEVELS and spine.levels[-1] == "S1"
    assert any("most confident run" in w for w in warnings)


def test_tilted_boxes_do_not_break_the_chain():
    # a steep curve: tilted bodies have tall boxes, but their centres keep the real spacing
    out, y = [], 100.0
    for k in range(17):
        h, w = 28 + k, 56 + 2 * k
        tilt = np.radians(35 * np.sin(np.pi * k / 16))
        box_h = h * np.cos(tilt) + w * np.sin(tilt)
        box_w = w * np.cos(tilt) + h * np.sin(tilt)
        out.append(Detection(Box.from_cxcywh(300 + 80 * np.sin(np.pi * k / 16), y, box_w, box_h), 0.9))
        y += 1.25 * h * np.cos(tilt)
    spine, warnings = apply_priors(out)
    assert spine.levels == AASCE_LEVELS, warnings


def test_short_chain_is_named_from_the_top_with_a_warning():
    spine, warnings = apply_priors(column(16))
    assert spine.levels == AASCE_LEVELS[:16] and any("16 vertebrae" in w for w in warnings)


def test_no_spine_says_so():
    spine, warnings = apply_priors([Detection(Box(0, 0, 10, 10), 0.9)])
    assert len(spine) == 0 and any("no spine" in w for w in warnings)
    spine, warnings = apply_priors([])
    assert len(spine) == 0


def test_priors_off_keeps_raw_order():
    dets = column()
    rib = Detection(Box.from_cxcywh(420, dets[5].box.center[1] + 5, 60, 25), 0.8)
    spine, _ = apply_priors(dets + [rib], PriorsConfig(enabled=False))
    assert len(spine) == 18  # the rib stays in without the chain prior


def test_per_level_scores_name_the_chain():
    dets = column(15)
    levels = tuple(f"T{i}" for i in range(1, 13)) + tuple(f"L{i}" for i in range(1, 6))
    scored = []
    for k, d in enumerate(dets):  # the film shows T3..L5: the detector's classes say so
        p = np.full(len(levels), 0.01)
        p[k + 2] = 0.9
        scored.append(Detection(d.box, d.score, p, levels))
    spine, _ = apply_priors(scored)
    assert spine.levels[0] == "T3" and spine.levels[-1] == "L5"


def test_config_validation():
    from spine.config import ConfigError, build

    with pytest.raises(ConfigError, match="cranial to caudal"):
        build(PriorsConfig, {"expected_levels": ["L5", "T1"]})


def _with_inferred_top(shift: float) -> tuple[Spine, list[Detection], Detection]:
    """A named spine whose T1 was added beyond the chain's end (a box extrapolated from T2 and T3, as the level
    identifier adds one), the detections the chain came from, and a weak detection of T1 moved by ``shift`` of its
    height from the true T1."""
    dets = column()
    spine, _ = apply_priors(dets)
    b = dets[0].box
    guess = Box(b.x1 + 6, b.y1 - 5, b.x2 + 6, b.y2 - 5)
    first = spine.vertebrae[0].with_(box=guess, score=0.0, inferred=True)
    weak = Detection(Box(b.x1, b.y1 + shift * b.height, b.x2, b.y2 + shift * b.height), 0.08)
    return spine.with_(vertebrae=(first,) + spine.vertebrae[1:]), dets[1:], weak


def test_an_inferred_vertebra_takes_the_box_of_a_weak_detection_there():
    spine, dets, weak = _with_inferred_top(0.05)
    snapped = snap_inferred(spine, dets + [weak], 0.3)
    top = snapped.vertebrae[0]
    assert top.box == weak.box and top.score == pytest.approx(0.08) and top.inferred and top.level == "T1"
    assert [v.box for v in snapped.vertebrae[1:]] == [v.box for v in spine.vertebrae[1:]]
    assert snap_inferred(spine, dets + [weak], 0.0) is spine  # 0: off


def test_snapping_leaves_inferred_vertebrae_without_a_detection_of_their_own():
    spine, dets, weak = _with_inferred_top(1.2)  # the weak box lies over T2, a detected vertebra: not T1's
    assert [v.box for v in snap_inferred(spine, dets + [weak], 0.3).vertebrae] == [v.box for v in spine.vertebrae]
    far = Detection(Box(0, 0, 10, 10), 0.5)  # nowhere near
    assert [v.box for v in snap_inferred(spine, dets + [far], 0.3).vertebrae] == [v.box for v in spine.vertebrae]


def test_snap_iou_is_validated():
    with pytest.raises(ConfigError):
        PriorsConfig(snap_iou=1.5).validate()


def test_a_detection_as_much_another_vertebra_s_is_not_taken():
    from spine.geometry import Vertebra

    spine = Spine((Vertebra("T1", Box(0, 0, 10, 10), score=0.9), Vertebra("T2", Box(0, 8, 10, 18), score=0.0, inferred=True),
                   Vertebra("T3", Box(0, 20, 10, 30), score=0.9)))
    shared = Detection(Box(0, 4, 10, 14), 0.1)  # IoU 0.43 with T1 and with the inferred T2
    assert snap_inferred(spine, [shared], 0.3).vertebrae[1].box == Box(0, 8, 10, 18)
    own = Detection(Box(0, 9, 10, 19), 0.1)
    assert snap_inferred(spine, [shared, own], 0.3).vertebrae[1].box == own.box


def test_a_chain_at_the_films_side_edge_is_no_spine():
    """A column centred 5 % across a film is a pattern, not a collimated spine film; centred, or width unknown, it stays."""
    centre = 300 + 60 * 2 / np.pi  # the curved column's mean centre, about 338 px
    spine, warnings = apply_priors(column(curve=60), width=centre / 0.05)
    assert len(spine) == 0 and "side edge (5% across)" in warnings[0]
    spine, _ = apply_priors(column(curve=60), width=centre / 0.95)  # the right edge as well
    assert len(spine) == 0
    assert len(apply_priors(column(curve=60), width=centre / 0.3)[0]) == 17
    assert len(apply_priors(column(curve=60))[0]) == 17
    assert len(apply_priors(column(curve=60), PriorsConfig(min_edge_distance=0.0), width=centre / 0.05)[0]) == 17
    with pytest.raises(ConfigError, match="min_edge_distance"):
        PriorsConfig(min_edge_distance=0.5).validate()

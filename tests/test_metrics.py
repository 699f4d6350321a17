"""Evaluation metrics against hand-computed cases."""

import numpy as np
import pytest

from spine.research.metrics import average_precision, corner_summary, dice_iou, match_boxes, pair_by_overlap


def test_match_boxes_is_one_to_one_and_respects_the_threshold():
    truth = np.array([[0, 0, 10, 10], [0, 20, 10, 30]])
    pred = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [0, 40, 10, 50]])
    assigned, used = match_boxes(pred, truth, 0.5)
    assert assigned.tolist() == [0, -1, -1] and used.tolist() == [True, False]


def test_average_precision_of_hand_made_rankings():
    truth = [np.array([[0, 0, 10, 10], [0, 20, 10, 30]])]
    perfect = [(truth[0], np.array([0.9, 0.8]))]
    assert average_precision(perfect, truth, 0.5) == pytest.approx(1.0)
    # a false positive ranked first: precision 0.5 at recall 0.5 and 2/3 at recall 1 -> interpolated 2/3 everywhere
    fp_first = [(np.array([[50, 50, 60, 60], [0, 0, 10, 10], [0, 20, 10, 30]]), np.array([0.95, 0.9, 0.8]))]
    assert average_precision(fp_first, truth, 0.5) == pytest.approx(2 / 3)


def test_pair_by_overlap_pairs_by_place_not_by_order_or_name():
    truth = np.array([[0, 0, 10, 10], [0, 12, 10, 22], [0, 24, 10, 34]])
    # the cascade found the lower two (in the opposite order) and one far-off box; a naming shift does not matter
    found = np.array([[0, 25, 10, 35], [100, 0, 110, 10], [0, 13, 10, 23]])
    assert pair_by_overlap(truth, found) == {1: 2, 2: 0}
    assert pair_by_overlap(truth, found[:0]) == {}


def test_dice_iou_and_corner_summary():
    a = np.zeros((4, 4), bool)
    a[:2] = True
    b = np.zeros((4, 4), bool)
    b[1:3] = True
    assert dice_iou(a, b) == pytest.approx((0.5, 1 / 3))
    assert dice_iou(a & False, b & False) == (1.0, 1.0)
    summary = corner_summary(np.array([5.0, 10.0, 25.0, 45.0]))
    assert summary["mean_px"] == pytest.approx(21.25) and summary["median_px"] == pytest.approx(17.5)
    assert summary["or20"] == pytest.approx(0.5) and summary["or40"] == pytest.approx(0.25)


def _straight_chain(n: int = 5) -> np.ndarray:
    """n vertebrae 40 px wide, 30 px tall, 50 px apart, corners in the declared order (SL, SR, IL, IR)."""
    unit = np.array([[0.0, 0.0], [40.0, 0.0], [0.0, 30.0], [40.0, 30.0]])
    return np.stack([unit + [0.0, 50.0 * i] for i in range(n)])


def test_error_structure_separates_a_films_widening_from_the_rest():
    from spine.research.metrics import error_structure

    truth = _straight_chain()
    wider = truth.copy()
    wider[:, [0, 2], 0] -= 2.0  # every left corner 2 px left, every right one 2 px right: the film reads 4 px wider
    wider[:, [1, 3], 0] += 2.0
    s = error_structure([(wider, truth)])
    assert s["films"] == 1 and s["mean_px"] == pytest.approx(2.0) and s["mean_px_without_film_offsets"] == pytest.approx(0.0)
    assert s["film_offset_rms_px"] == pytest.approx({"shift_x": 0.0, "shift_y": 0.0, "widening": 4.0, "heightening": 0.0})
    assert s["roughness_px_xy"]["truth"] == [0.0, 0.0] and s["roughness_px_xy"]["predicted"] == [0.0, 0.0]


def test_error_structure_roughness_of_one_displaced_vertebra():
    from spine.research.metrics import error_structure

    truth = _straight_chain()
    bumped = truth.copy()
    bumped[2, :, 1] += 6.0  # the middle vertebra 6 px down: second differences -3, 6, -3 along y
    s = error_structure([(bumped, truth)])
    assert s["roughness_px_xy"]["predicted"][1] == pytest.approx(np.std([-3.0, 6.0, -3.0]))
    assert s["roughness_px_xy"]["predicted"][0] == 0.0 and s["roughness_px_xy"]["truth"] == [0.0, 0.0]
    assert s["film_offset_rms_px"]["shift_y"] == pytest.approx(6.0 / 5)
    assert error_structure([]) == {"films": 0}

"""Chain consistency: a lone misplaced corner is put back; wedges, crushes and slips are never smoothed away."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.lib.consistency import consistent_corners
from pipeline.lib.measures import measure_spine
from pipeline.lib.phantom import PhantomSpec, make_phantom


@pytest.mark.parametrize("offset", [(10.6, -10.6), (15.0, 0.0), (-15.0, 0.0), (0.0, -15.0)], ids=["out", "right", "left", "up"])
def test_injected_15px_outlier_corner_is_corrected(ap_phantom, offset):
    truth = ap_phantom.spine.corners_array()
    bad = truth.copy()
    bad[8, 1] += offset  # T9 superior-right: sideways, outward or up (lengthening its side)
    fixed, moved = consistent_corners(bad)
    assert moved[8] == 1 and (np.delete(moved, 8) == -1).all()
    assert np.linalg.norm(fixed[8, 1] - truth[8, 1]) < 3.0
    assert np.array_equal(np.delete(fixed, 8, axis=0), np.delete(bad, 8, axis=0))


def test_true_shapes_are_left_alone(ap_phantom, lat_phantom):
    for phantom in (ap_phantom, lat_phantom):
        corners = phantom.spine.corners_array()
        fixed, moved = consistent_corners(corners)
        assert (moved == -1).all() and np.array_equal(fixed, corners)


def _measures(spine, corners):
    return measure_spine(spine.with_(vertebrae=tuple(v.with_(corners=c) for v, c in zip(spine.vertebrae, corners))))[0]


def test_wedge_and_slip_of_a_phantom_survive_within_1_deg_and_2_percent(lat_phantom):
    """The lateral phantom has L1 wedged (30 % height loss) and a 30 % slip of L4 on L5."""
    spine = lat_phantom.spine
    before = _measures(spine, spine.corners_array())
    after = _measures(spine, consistent_corners(spine.corners_array())[0])
    wedge = before["per_vertebra"]["L1"]["wedge_deg"]
    assert wedge > 10
    assert abs(after["per_vertebra"]["L1"]["wedge_deg"] - wedge) < 1.0
    slip = before["per_disc"]["L4-L5"]["slip_percent"]
    assert slip > 25
    assert abs(after["per_disc"]["L4-L5"]["slip_percent"] - slip) < 2.0


@pytest.mark.parametrize("view", ["AP", "LAT"])
def test_crush_fractures_are_never_smoothed(view):
    phantom = make_phantom(PhantomSpec(view=view, seed=5, height_px=768, wedges={"T12": 0.45, "L1": 0.6}))
    corners = phantom.spine.corners_array()
    assert (consistent_corners(corners)[1] == -1).all()
    crushed = corners.copy()
    crushed[8, 1, 1] += 15.0  # a superior corner 15 px down: its side shorter, as a crush would make it
    assert consistent_corners(crushed)[1][8] == -1

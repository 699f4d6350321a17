"""Painted masks to vertebrae: instance separation (touching and joined vertebrae) and corner fits."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from spine.masks import fit_quadrilateral, outline, separate_instances
from spine.phantom import PhantomSpec, make_phantom
from spine.research.datasets.seed import vertebrae_from_mask


@pytest.fixture(scope="module", params=[("AP", 1), ("LAT", 2)])
def phantom(request):
    view, seed = request.param
    return make_phantom(PhantomSpec(view=view, seed=seed, height_px=768))


def test_separated_vertebrae_come_out_one_each(phantom):
    assert len(separate_instances(phantom.labels > 0)) == len(phantom.spine)


def test_touching_vertebrae_are_separated(phantom):
    touching = cv2.dilate((phantom.labels > 0).astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
    assert len(separate_instances(touching)) == len(phantom.spine)


def test_joined_vertebrae_are_separated(phantom):
    mask = (phantom.labels > 0).astype(np.uint8)
    vs = phantom.spine.vertebrae
    for k in (3, 10):  # paint two discs solid: no gap at all between those neighbours
        disc = np.array([vs[k].corners[2], vs[k].corners[3], vs[k + 1].corners[1], vs[k + 1].corners[0]])
        cv2.fillPoly(mask, [np.round(disc).astype(np.int32)], 1)
    assert len(separate_instances(mask)) == len(phantom.spine)


def test_corners_from_masks_match_the_truth(phantom):
    levels = phantom.spine.levels
    found = vertebrae_from_mask(phantom.labels > 0, levels)
    assert [v.level for v in found] == list(levels)
    errors = np.concatenate([np.linalg.norm(f.corners - t.corners, axis=1) for f, t in zip(found, phantom.spine.vertebrae)])
    assert np.median(errors) < 2.5 and errors.max() < 8


def test_quadrilateral_fit_of_a_rotated_trapezoid():
    canvas = np.zeros((200, 200), np.uint8)
    corners = np.array([[60, 70], [140, 60], [62, 130], [142, 125]], float)  # SL, SR, IL, IR
    cv2.fillPoly(canvas, [np.round(corners[[0, 1, 3, 2]]).astype(np.int32)], 1)
    fitted = fit_quadrilateral(outline(canvas))
    assert np.abs(fitted - corners).max() < 2.0


def test_empty_mask_has_no_instances():
    assert separate_instances(np.zeros((20, 20))) == []

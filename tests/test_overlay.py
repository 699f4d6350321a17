"""The overlay a reader trusts at a glance: on full-length films the level names and the curves' angles stand in a
gutter beside the film, never on the anatomy, never over each other, never clipped, each level beside its vertebra."""

from __future__ import annotations

import numpy as np
import pytest

from spine.overlay import _unit, gutter_labels, render_overlay
from spine.phantom import PhantomSpec, make_phantom
from spine.radiograph import Radiograph
from spine.remeasure import measure_result
from spine.result import ImageInfo, SpineResult


def _result(phantom) -> SpineResult:
    h, w = phantom.image.shape
    return measure_result(SpineResult(ImageInfo("p.png", w, h, phantom.spine.view), phantom.spine))


@pytest.mark.parametrize("view,seed", [("AP", 5), ("AP", 8), ("LAT", 6)])
def test_labels_stand_in_the_gutter_apart_and_beside_their_vertebrae(view, seed):
    phantom = make_phantom(PhantomSpec(view=view, seed=seed, field="full", height_px=1600))
    result = _result(phantom)
    unit = _unit(result, 1.0, phantom.image.shape)
    labels, gutter = gutter_labels(result, 1.0, unit, phantom.image.shape[0])
    levels = [label for label in labels if label.anchor is not None]
    assert len(levels) == sum(1 for v in result.spine.vertebrae if v.level)
    boxes = np.array([label.box for label in labels])
    assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= gutter).all()  # left of the film: on no vertebra, no rib head
    assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= phantom.image.shape[0]).all()  # not clipped
    for i in range(len(boxes)):
        for j in range(i + 1, len(boxes)):
            a, b = boxes[i], boxes[j]
            assert a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1], (labels[i].text, labels[j].text)
    pitch = np.median(np.diff(sorted(v.box.center[1] for v in result.spine.vertebrae)))
    for label in levels:  # each name within a vertebra's spacing of its own vertebra's row
        assert abs((label.box[1] + label.box[3]) / 2 - label.anchor[1]) <= 1.5 * pitch, label.text
    picture = render_overlay(Radiograph(phantom.image, "p.png"), result)
    film = picture[: phantom.image.shape[0], gutter : gutter + phantom.image.shape[1], 0]
    assert np.abs(film.astype(float) - np.round(phantom.image * 255)).mean() < 12  # the film itself carries no text

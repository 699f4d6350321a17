"""Geometry vocabulary, the crop mapping, and the spine-geometry/1 JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from spine.crop import Crop
from spine.geometry import CORNERS, FLIP_CORNERS, LEVELS, Box, Polygon, Spine, Vertebra, box_iou, level_range
from spine.result import SCHEMA, ImageInfo, SpineResult, from_dict, read_result, to_dict, write_result


def test_corner_order_and_levels_declared_once():
    assert CORNERS == ("superior_left", "superior_right", "inferior_left", "inferior_right")
    assert FLIP_CORNERS == (1, 0, 3, 2)
    assert LEVELS.index("T12") < LEVELS.index("T13") < LEVELS.index("L1") < LEVELS.index("L5") < LEVELS.index("L6") < LEVELS.index("S1")
    assert level_range("T1", "L5") == tuple([f"T{i}" for i in range(1, 13)] + [f"L{i}" for i in range(1, 6)])
    assert "T13" in level_range("T10", "L2", extra=["T13"])


def test_box_and_iou():
    a, b = Box(0, 0, 10, 10), Box(5, 0, 15, 10)
    assert a.iou(b) == pytest.approx(50 / 150)
    assert box_iou(np.array([a.as_list()]), np.array([a.as_list(), [20, 20, 30, 30]])).tolist() == [[1.0, 0.0]]
    with pytest.raises(ValueError):
        Box(10, 0, 0, 10)


def test_vertebra_validates_corners_and_level():
    corners = np.array([[0, 0], [10, 0], [0, 5], [10, 5]], float)
    v = Vertebra.from_corners("L1", corners)
    assert v.box.as_list() == [0, 0, 10, 5] and v.center == (5.0, 2.5)
    assert not v.corners.flags.writeable
    with pytest.raises(ValueError, match="unknown vertebral level"):
        Vertebra.from_corners("L7", corners)
    with pytest.raises(ValueError, match=r"\(4, 2\)"):
        Vertebra("L1", Box(0, 0, 1, 1), corners=np.zeros((3, 2)))


def test_polygon_rasterises_where_it_is():
    mask = Polygon(np.array([[2, 2], [7, 2], [7, 5], [2, 5]], float)).rasterize((10, 10))
    assert mask[3, 4] and not mask[8, 8]
    assert mask.sum() == pytest.approx(6 * 4, abs=6)


@pytest.mark.parametrize("box", [Box(10, 20, 50, 40), Box(-30, -10, 20, 15), Box(80, 90, 130, 140)])
def test_crop_round_trip_including_padding(box):
    crop = Crop.around(box, margin=0.5, size=64)
    pts = np.random.default_rng(0).uniform(-50, 150, (20, 2))
    assert np.allclose(crop.to_image(crop.to_crop(pts)), pts)
    back = crop.box_to_image(crop.box_to_crop(box))
    assert np.allclose(back.as_list(), box.as_list())


def test_crop_extract_pads_outside_the_image_and_samples_inside():
    image = np.arange(100 * 100, dtype=np.float32).reshape(100, 100)
    crop = Crop(Box(-10, -10, 30, 30), (40, 40))  # 1 crop px per image px, window sticks out top-left
    patch = crop.extract(image, pad_value=-1)
    assert patch.shape == (40, 40)
    assert patch[0, 0] == -1 and patch[15, 25] == image[5, 15]
    assert np.allclose(crop.to_crop([15, 5]), [25, 15])


def test_crop_paste_puts_a_known_mask_back():
    image_shape = (200, 160)
    truth = np.zeros(image_shape, np.float32)
    truth[80:100, 50:90] = 1
    crop = Crop.around(Box(50, 80, 90, 100), margin=0.4, size=96)
    in_crop = crop.extract(truth, nearest=True)
    back = crop.paste_full(in_crop, image_shape, nearest=True)
    assert np.abs(back - truth).sum() <= 0.05 * truth.sum()
    patch, (x0, y0) = crop.paste(in_crop, image_shape)
    assert x0 >= 0 and y0 >= 0 and patch.shape[0] <= image_shape[0]


def _result() -> SpineResult:
    v1 = Vertebra.from_corners("T12", np.array([[10, 10], [30, 12], [11, 25], [31, 26]], float), score=0.9,
                               mask=Polygon(np.array([[10, 10], [30, 12], [31, 26], [11, 25]], float)))
    v2 = Vertebra("L1", Box(12, 30, 33, 48), score=0.4, inferred=True)
    spine = Spine((v1, v2), view="LAT", spacing_mm=(0.2, 0.25), anterior="right")
    info = ImageInfo("film.dcm", 100, 200, "LAT", (0.2, 0.25), "PixelSpacing", 54.0, "M", "right")
    return SpineResult(info, spine, {"lumbar_lordosis_deg": 40.0, "nan": float("nan")}, ("a warning",))


def test_json_shape_and_round_trip(tmp_path):
    result = _result()
    d = to_dict(result)
    assert d["schema"] == SCHEMA
    assert set(d) >= {"schema", "image", "vertebrae", "measurements", "warnings"}
    assert set(d["image"]) >= {"path", "width", "height", "view", "spacing_mm", "spacing_source", "age", "sex"}
    assert set(d["vertebrae"][0]) == {"level", "score", "box", "corners", "mask", "inferred"}
    assert d["vertebrae"][1]["corners"] is None and d["vertebrae"][1]["mask"] is None
    assert d["measurements"]["nan"] is None
    path = write_result(result, tmp_path / "r.json")
    json.loads(path.read_text())
    back = read_result(path)
    assert to_dict(back) == d
    assert back.spine.anterior == "right" and back.spine.spacing_mm == (0.2, 0.25)
    assert np.allclose(back.spine.vertebrae[0].corners, result.spine.vertebrae[0].corners)
    assert "model" not in d  # written only by a model
    made = result.with_(model={"name": "default", "runtimes": {"segmenter": "onnx-int8"}})
    assert from_dict(to_dict(made)).model == made.model


def test_json_rejects_other_schemas():
    d = to_dict(_result())
    d["schema"] = "something/2"
    with pytest.raises(ValueError, match="schema"):
        from_dict(d)


def test_spine_validates_view_and_spacing():
    with pytest.raises(ValueError):
        Spine((), view="OBLIQUE")
    with pytest.raises(ValueError):
        Spine((), spacing_mm=(0.0, 1.0))

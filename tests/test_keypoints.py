"""Keypoint stage: codec round trips, the crop -> image mapping of corners, a smoke run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from keypoints.codec import HeatmapCodec
from keypoints.predict import CornerModel
from keypoints.training.config import KeypointsConfig
from spine import config as configlib
from spine.crop import Crop
from spine.geometry import Box

CORNERS = torch.tensor([[[20.0, 30.0], [100.0, 26.0], [22.0, 70.0], [103.0, 72.5]]])


def test_heatmap_codec_round_trip():
    codec = HeatmapCodec(128, sigma=2.0)
    maps = codec.encode(CORNERS)
    assert maps.shape == (1, 4, 128, 128) and maps.max() == pytest.approx(1.0, abs=0.05)
    assert torch.allclose(codec.expectation(maps), CORNERS, atol=0.01)
    # a sharp raw map decodes to its peak through the softmax
    raw = torch.full((1, 4, 128, 128), -50.0)
    for k, (x, y) in enumerate(CORNERS[0].long().tolist()):
        raw[0, k, y, x] = 50.0
    assert torch.allclose(codec.decode(raw), CORNERS[0].floor()[None], atol=0.01)


def test_heatmap_decode_is_the_softmax_centre_of_mass():
    """The decode forms no softmax (its normaliser cancels): the same corners as softmax then centre of mass, for
    broad and sharp maps and a sharpening beta."""
    torch.manual_seed(0)
    for beta, scale in ((1.0, 1.0), (1.0, 20.0), (2.5, 5.0)):
        codec = HeatmapCodec(64, beta=beta)
        raw = torch.randn(3, 4, 64, 64) * scale
        reference = torch.softmax(beta * raw.flatten(-2), dim=-1).unflatten(-1, (64, 64))
        xs = torch.arange(64.0)
        expected = torch.stack([(reference.sum(-2) * xs).sum(-1), (reference.sum(-1) * xs).sum(-1)], dim=-1)
        assert torch.allclose(codec.decode(raw), expected, atol=1e-3)


def test_heatmap_codec_at_stride_2_answers_in_crop_px():
    """Maps at half the crop's side: a cell stands at the centre of its 2 x 2 crop pixels, round trips stay in crop
    px, and a mirrored map decodes to the mirrored corners (x -> S - 1 - x), as the test-time flip assumes."""
    codec = HeatmapCodec(128, sigma=2.0, stride=2)
    maps = codec.encode(CORNERS)
    assert maps.shape == (1, 4, 64, 64)
    assert torch.allclose(codec.expectation(maps), CORNERS, atol=0.02)
    raw = torch.full((1, 4, 64, 64), -50.0)
    raw[0, 0, 10, 7] = 50.0  # row 10, column 7: crop px (14.5, 20.5)
    assert torch.allclose(codec.decode(raw)[0, 0], torch.tensor([14.5, 20.5]), atol=1e-3)
    reference = codec.decode(codec.encode(CORNERS) * 30)
    mirrored = codec.decode(codec.encode(CORNERS).flip(-1) * 30)
    assert torch.allclose(mirrored[..., 0], 127 - reference[..., 0], atol=1e-3)
    assert torch.allclose(mirrored[..., 1], reference[..., 1], atol=1e-3)
    with pytest.raises(ValueError, match="multiple"):
        HeatmapCodec(127, stride=2)


def test_stride_2_head_gives_half_side_maps_and_starts_from_a_stride_1_head(tmp_path):
    from keypoints.model import build_model
    from keypoints.training.train import KeypointModule
    from spine.modelfolder import load_state, save_model_folder
    from spine.research.training import start_from

    cfg = configlib.build(KeypointsConfig, {"crop": {"size": 64}, "model": {"pretrained": "none"}})
    half = configlib.build(KeypointsConfig, {"crop": {"size": 64}, "model": {"pretrained": "none", "heatmap_stride": 2}})
    folder = save_model_folder(tmp_path / "kp", build_model(cfg.model).state_dict(), cfg, {"stage": "keypoints"})
    module = KeypointModule(half)
    assert module.model(torch.zeros(2, 1, 64, 64)).shape == (2, 4, 32, 32)
    assert module.codec.decode(torch.zeros(2, 4, 32, 32)).shape == (2, 4, 2)
    with pytest.warns(UserWarning, match="left out: net.decoder.blocks.4"):
        start_from(module, folder)
    saved = load_state(folder)
    assert all(torch.equal(value, saved[key]) for key, value in module.model.state_dict().items())


class _Identity(torch.nn.Module):
    """A 'trained' head that always answers the same raw maps."""

    def __init__(self, encoded: torch.Tensor):
        super().__init__()
        self.encoded = encoded

    def forward(self, x):
        return self.encoded.expand(len(x), -1, -1, -1)


def test_predict_maps_crop_corners_back_to_the_image():
    truth = np.array([[410.0, 300.0], [480.0, 296.0], [412.0, 338.0], [483.0, 341.0]])
    box = Box.from_points(truth)
    crop = Crop.around(box, 0.35, 128)
    codec = HeatmapCodec(128)
    inside = torch.from_numpy(crop.to_crop(truth)).float()[None]
    log_gaussians = -((codec.xs - inside[..., 0, None, None]) ** 2 + (codec.ys - inside[..., 1, None, None]) ** 2) / 8
    model = CornerModel(_Identity(log_gaussians), codec, 128, 0.35, runtime="torch")
    (found,) = model.corners(np.zeros((800, 900), np.float32), [box])
    assert np.allclose(found, truth, atol=1e-2)


def test_config_loads_and_checks():
    assert configlib.load(KeypointsConfig, "configs/keypoints.yaml").crop.size % 32 == 0
    with pytest.raises(configlib.ConfigError, match="multiple of 32"):
        configlib.build(KeypointsConfig, {"crop": {"size": 130}})


@pytest.mark.slow
def test_one_epoch_smoke_run(tmp_path):
    from keypoints.training.train import train

    cfg = configlib.build(KeypointsConfig, {
        "name": "smoke", "output": str(tmp_path / "runs"), "cache": str(tmp_path / "crops"),
        "data": {"root": str(tmp_path / "none"), "phantoms": 3, "phantom_height_px": 384, "phantom_dir": str(tmp_path / "ph")},
        "crop": {"size": 64}, "model": {"pretrained": "none"},
        "train": {"epochs": 1, "batch": 8},
    })
    result = train(cfg)
    meta = json.loads((result.folder / "meta.json").read_text())
    assert meta["stage"] == "keypoints" and meta["head"] == "heatmap" and meta["input"]["channels"] == 1
    model = CornerModel.load(result.folder)
    (corners,) = model.corners(np.zeros((300, 200), np.float32), [Box(50, 100, 110, 130)])
    assert corners.shape == (4, 2) and np.isfinite(corners).all()


def test_box_sensitivity_is_one_for_a_head_that_reads_the_box_and_zero_for_one_that_reads_the_image():
    from keypoints.training.evaluate import box_sensitivity
    from spine.geometry import Spine, Vertebra
    from spine.research.datasets.annotation import Annotation

    truth = np.array([[410.0, 300.0], [480.0, 300.0], [410.0, 340.0], [480.0, 340.0]])
    spine = Spine((Vertebra("T8", Box.from_points(truth), corners=truth),), view="AP")

    class ReadsTheBox:
        def corners(self, pixels, boxes):
            return [np.array([[b.x1, b.y1], [b.x2, b.y1], [b.x1, b.y2], [b.x2, b.y2]]) for b in boxes]

    class ReadsTheImage:
        def corners(self, pixels, boxes):
            return [truth.copy() for _ in boxes]

    import tempfile
    from pathlib import Path

    from spine.files import atomic_write_png

    path = atomic_write_png(Path(tempfile.mkdtemp()) / "f.png", np.zeros((600, 800), np.uint16))
    films = [Annotation(str(path), "p", "phantom", spine, 800, 600)]
    boxed, imaged = box_sensitivity(ReadsTheBox(), films), box_sensitivity(ReadsTheImage(), films)
    assert all(abs(v - 1) < 1e-6 for v in boxed["follows"].values())
    assert all(abs(v) < 1e-6 for v in imaged["follows"].values())
    assert imaged["corner_error_px"]["scale"] == 0 and boxed["corner_error_px"]["shift_x"] > 6

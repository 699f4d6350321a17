"""Int8 twins of the crop networks: close to the float network, tied to the weights they were made from, and
written by ``python -m pipeline.quantize`` from the crops the set really sees."""

from __future__ import annotations

import logging
import shutil

import numpy as np
import pytest
import torch

from keypoints.config import PredictConfig as CornerPredict
from keypoints.predict import CornerModel
from pipeline.modelset import ModelSet
from segmenter.config import PredictConfig as SegmentPredict
from segmenter.predict import Segmenter
from spine.int8 import INT8, load_int8, quantize, save_int8
from spine.onnxrun import OnnxNetwork, export_onnx, runner
from spine.paths import DEFAULT_MODELS


class Block(torch.nn.Module):
    """Conv, ReLU6 and a residual addition: the operations the crop networks' encoders are made of."""

    def __init__(self):
        super().__init__()
        self.stem, self.conv = torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.Conv2d(8, 8, 3, padding=1)
        self.head = torch.nn.Conv2d(8, 2, 1)

    def forward(self, x):
        y = torch.nn.functional.relu6(self.stem(x))
        return self.head(y + torch.nn.functional.relu6(self.conv(y)))


def test_an_int8_twin_stays_close_to_the_float_network():
    torch.manual_seed(0)
    network = Block().eval()
    x = torch.rand(16, 1, 24, 24)
    int8 = quantize(export_onnx(network, torch.zeros(1, 1, 24, 24)), [x[:8].numpy(), x[8:].numpy()])
    with torch.no_grad():
        exact = network(x)
    twin = OnnxNetwork(int8)(x)
    assert twin.shape == exact.shape
    assert (twin - exact).abs().max() < 0.05 * exact.abs().max()
    assert (twin - exact).abs().max() > 0  # it really is another (quantised) network


def test_an_int8_model_made_from_other_weights_is_not_used(tmp_path, caplog):
    folder = tmp_path / "keypoints"
    shutil.copytree(DEFAULT_MODELS / "keypoints", folder, ignore=shutil.ignore_patterns(INT8))
    assert load_int8(folder) is None  # none written yet
    save_int8(folder, b"int8 bytes", {"calibration": {}})
    assert load_int8(folder) == b"int8 bytes"
    (folder / "weights.safetensors").write_bytes((folder / "weights.safetensors").read_bytes() + b" ")
    with caplog.at_level(logging.WARNING):
        assert load_int8(folder) is None
    assert "other weights" in caplog.text


def test_asking_for_int8_without_a_model_runs_float_onnx_with_a_warning(caplog):
    network = torch.nn.Conv2d(1, 1, 3).eval()
    with caplog.at_level(logging.WARNING):
        run = runner(network, "onnx-int8", "cpu", (1, 1, 8, 8))
    assert isinstance(run, OnnxNetwork) and "no current int8 model" in caplog.text
    assert runner(network, "onnx-int8", "cuda", (1, 1, 8, 8)) is network


def test_the_shipped_crop_networks_run_on_current_int8_twins(shipped_models):
    models = shipped_models
    for stage in (models.segmenter, models.corners):
        assert stage.runtime == "onnx-int8" and stage.int8 is not None and isinstance(stage.run, OnnxNetwork)
    assert models.finder.redraw is models.segmenter  # boxes re-drawn from the int8 segmenter's outlines
    assert models.provenance["runtimes"] == {"segmenter": "onnx-int8", "keypoints": "onnx-int8", "levels": "onnx"}


def test_shipped_int8_corners_and_masks_agree_with_float_on_a_phantom(ap_phantom):
    boxes = [v.box for v in ap_phantom.spine.vertebrae]
    head = CornerModel.load(DEFAULT_MODELS / "keypoints")
    assert head.int8 is not None
    on_float = head.with_predict(CornerPredict(flip=True, runtime="onnx")).corners(ap_phantom.image, boxes)
    on_int8 = head.with_predict(CornerPredict(flip=True, runtime="onnx-int8")).corners(ap_phantom.image, boxes)
    gap = np.linalg.norm(np.stack(on_float) - np.stack(on_int8), axis=-1)
    assert 0 < gap.mean() < 1.0 and gap.max() < 5.0  # image px (a found box is off by ~10 px on real films)
    segmenter = Segmenter.load(DEFAULT_MODELS / "segmenter")
    masks = [segmenter.with_predict(SegmentPredict(runtime=r)).probabilities(ap_phantom.image, boxes) for r in ("onnx", "onnx-int8")]
    for (a, _), (b, _) in zip(*masks):
        a, b = a > 0.5, b > 0.5
        assert 2 * (a & b).sum() / (a.sum() + b.sum()) > 0.95


@pytest.mark.slow
def test_the_quantize_tool_writes_current_twins_from_the_sets_own_crops(tmp_path):
    from pipeline.quantize import main
    from spine.modelfolder import read_meta
    from spine.phantom import PhantomSpec, make_phantom, write_phantom

    films = tmp_path / "films"
    for seed in range(3):
        write_phantom(make_phantom(PhantomSpec(view="AP", seed=500 + seed, height_px=768)), films, f"phantom_ap_{seed:05d}", fmt="png")
    models = tmp_path / "set"
    shutil.copytree(DEFAULT_MODELS, models, ignore=shutil.ignore_patterns(INT8))
    stages = ["segmenter", "keypoints"]
    assert main(["--models", str(models), "--data", str(films), "--format", "phantom", "--films", "2", "--check", "1",
                 "--stages", *stages]) == 0
    loaded = ModelSet.load(models)
    assert all(s.runtime == "onnx-int8" and s.int8 is not None for s in (loaded.segmenter, loaded.corners))
    for stage in stages:
        assert load_int8(models / stage) is not None
        record = read_meta(models / stage)["int8"]
        assert record["calibration"]["films"] == 2 and record["calibration"]["crops"] > 10
        agreement = record["agreement"]
        assert agreement.get("mask_dice_mean", 1.0) > 0.95 and agreement.get("corner_px_mean", 0.0) < 1.0

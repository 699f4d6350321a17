"""ONNX Runtime twins of the crop networks: same outputs as torch on the shipped models, torch kept where it must be."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from keypoints.config import PredictConfig as CornerPredict
from keypoints.predict import CornerModel
from segmenter.config import PredictConfig as SegmentPredict
from segmenter.predict import Segmenter
from spine import onnxrun
from spine.onnxrun import OnnxNetwork, export_onnx, runner
from spine.paths import DEFAULT_MODELS


@pytest.fixture(scope="module")
def shipped():
    corners = CornerModel.load(DEFAULT_MODELS / "keypoints")
    segmenter = Segmenter.load(DEFAULT_MODELS / "segmenter")
    return corners, segmenter


def test_the_shipped_crop_stages_run_on_onnx_runtime_by_default(shipped):
    corners, segmenter = shipped
    assert isinstance(corners.run, OnnxNetwork) and isinstance(segmenter.run, OnnxNetwork)
    assert corners.with_predict(CornerPredict(runtime="torch")).run is corners.network


@pytest.mark.parametrize("flip", [False, True])
def test_onnx_and_torch_give_the_same_corners(shipped, ap_phantom, flip):
    corners, _ = shipped
    boxes = [v.box for v in ap_phantom.spine.vertebrae]
    on_torch = corners.with_predict(CornerPredict(flip=flip, runtime="torch")).corners(ap_phantom.image, boxes)
    on_onnx = corners.with_predict(CornerPredict(flip=flip, runtime="onnx")).corners(ap_phantom.image, boxes)
    assert np.abs(np.stack(on_torch) - np.stack(on_onnx)).max() < 0.01  # image px


def test_onnx_and_torch_give_the_same_masks(shipped, ap_phantom):
    _, segmenter = shipped
    boxes = [v.box for v in ap_phantom.spine.vertebrae]
    on_torch = segmenter.with_predict(SegmentPredict(runtime="torch")).probabilities(ap_phantom.image, boxes)
    on_onnx = segmenter.with_predict(SegmentPredict(runtime="onnx")).probabilities(ap_phantom.image, boxes)
    assert max(np.abs(a - b).max() for (a, _), (b, _) in zip(on_torch, on_onnx)) < 1e-4


def test_a_dict_output_keeps_its_keys_and_the_batch_is_free():
    class TwoHeads(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 2, 3, padding=1)

        def forward(self, x):
            y = self.conv(x)
            return {"logits": y[:, :1], "aux": [y[:, 1:]]}

    network = TwoHeads().eval()
    twin = OnnxNetwork(export_onnx(network, torch.zeros(1, 1, 16, 16), keys=("logits",)), keys=("logits",))
    x = torch.randn(5, 1, 16, 16)
    out = twin(x)
    assert set(out) == {"logits"} and out["logits"].shape == (5, 1, 16, 16)
    assert torch.allclose(out["logits"], network(x)["logits"], atol=1e-5)


def test_onnx_runtime_threads_do_not_busy_wait_between_runs():
    """Spinning threads took the cores from the torch and numpy work between crop batches (bench/pipeline_speed.py)."""
    twin = OnnxNetwork(export_onnx(torch.nn.Conv2d(1, 1, 3).eval(), torch.zeros(1, 1, 8, 8)))
    assert twin.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_torch_stays_off_the_cpu_and_when_asked():
    network = torch.nn.Conv2d(1, 1, 3).eval()
    assert runner(network, "onnx", "cuda", (1, 1, 8, 8)) is network
    assert runner(network, "torch", "cpu", (1, 1, 8, 8)) is network
    assert isinstance(runner(network, "onnx", "cpu", (1, 1, 8, 8)), OnnxNetwork)


def test_a_failed_export_falls_back_to_torch_with_a_warning(monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise RuntimeError("no exporter")

    monkeypatch.setattr(onnxrun, "export_onnx", broken)
    network = torch.nn.Conv2d(1, 1, 3).eval()
    with caplog.at_level(logging.WARNING):
        assert runner(network, "onnx", "cpu", (1, 1, 8, 8)) is network
    assert "running torch" in caplog.text


def test_the_level_identifier_gives_the_same_probabilities_on_onnx(ap_phantom):
    from detector.levels.chain import extend_chain
    from detector.levels.predict import LevelIdentifier

    on_onnx = LevelIdentifier.load(DEFAULT_MODELS / "levels")
    on_torch = LevelIdentifier.load(DEFAULT_MODELS / "levels", runtime="torch")
    assert isinstance(on_onnx.embed, OnnxNetwork) and not isinstance(on_torch.embed, OnnxNetwork)
    chain, extrapolated = extend_chain(ap_phantom.spine, ap_phantom.image.shape[0], on_onnx.crop.extend)
    a = on_torch.log_probs(ap_phantom.image, chain, extrapolated)
    b = on_onnx.log_probs(ap_phantom.image, chain, extrapolated)
    assert a.shape == (len(chain), b.shape[1]) and np.abs(np.exp(a) - np.exp(b)).max() < 1e-4

"""Segmenter stage: deep-supervision heads, crop -> mask -> image mapping, config checks, a one-epoch smoke run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from segmenter.config import ModelConfig
from segmenter.model import TOP_ROW, build_model
from segmenter.predict import crop_mask_to_polygon
from segmenter.training.config import SegmenterConfig
from spine import config as configlib
from spine.crop import Crop
from spine.geometry import Box, Polygon


def test_deep_supervision_heads_exist_and_all_reach_the_loss():
    model = build_model(ModelConfig(pretrained="none", decoder_channels=(32, 16, 16, 8, 8)))
    out = model(torch.randn(2, 1, 64, 64))
    assert out["logits"].shape == (2, 1, 64, 64) and len(out["aux"]) == len(TOP_ROW) == 3
    assert all(a.shape == (2, 1, 64, 64) for a in out["aux"])
    loss = sum(torch.nn.functional.binary_cross_entropy_with_logits(o, torch.ones_like(o)) for o in [out["logits"], *out["aux"]])
    loss.backward()
    assert all(head.weight.grad is not None and head.weight.grad.abs().sum() > 0 for head in model.aux_heads)
    # each top-row block gets gradient through its own head too
    for name in TOP_ROW:
        block = model.net.decoder.blocks[name]
        assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in block.parameters())


def test_deep_supervision_off_has_no_aux_outputs():
    model = build_model(ModelConfig(pretrained="none", deep_supervision=False, decoder_channels=(32, 16, 16, 8, 8)))
    assert model(torch.randn(1, 1, 64, 64))["aux"] == []


def test_pretrained_lite0_weights_load_into_the_encoder():
    from spine.research.pretrained import load_imagenet_lite0

    model = build_model(ModelConfig(pretrained="none"))
    before = model.net.encoder.state_dict()["model.conv_stem.weight"].clone()
    copied = load_imagenet_lite0(model.net.encoder)
    after = model.net.encoder.state_dict()["model.conv_stem.weight"]
    assert copied > 200 and after.shape[1] == 1 and not torch.equal(before, after)


def test_crop_size_the_encoder_cannot_take_is_rejected():
    with pytest.raises(configlib.ConfigError, match="multiple of 32; use 96"):
        configlib.build(SegmenterConfig, {"crop": {"size": 100}})
    with pytest.raises(configlib.ConfigError, match="needs model.encoder"):
        configlib.build(SegmenterConfig, {"model": {"encoder": "resnet18", "pretrained": "efficientnet_lite0"}})
    cfg = configlib.load(SegmenterConfig, "configs/segmenter.yaml")
    assert cfg.crop.size % 32 == 0


def test_crop_mask_goes_back_where_it_belongs():
    truth = Polygon(np.array([[210, 300], [290, 290], [295, 330], [212, 338]], float))
    crop = Crop.around(Box.from_points(truth.points), margin=0.35, size=96)
    prob = Polygon(crop.to_crop(truth.points)).rasterize((96, 96)).astype(np.float32)
    prob[2:6, 2:6] = 1.0  # a stray blob away from the centre is ignored
    back = crop_mask_to_polygon(prob, crop)
    window = (400, 400)
    a, b = back.rasterize(window), truth.rasterize(window)
    dice = 2 * (a & b).sum() / (a.sum() + b.sum())
    assert dice > 0.93
    assert np.allclose(back.points.mean(axis=0), truth.points.mean(axis=0), atol=3)


@pytest.mark.slow
def test_one_epoch_smoke_run(tmp_path):
    from segmenter.predict import load_segmenter
    from segmenter.training.train import train

    cfg = configlib.build(SegmenterConfig, {
        "name": "smoke", "output": str(tmp_path / "runs"), "cache": str(tmp_path / "crops"),
        "data": {"root": str(tmp_path / "none"), "phantoms": 3, "phantom_height_px": 384, "phantom_dir": str(tmp_path / "ph")},
        "crop": {"size": 64}, "model": {"decoder_channels": [32, 16, 16, 8, 8]}, "train": {"epochs": 1, "batch": 8},
    })
    result = train(cfg)
    meta = json.loads((result.folder / "meta.json").read_text())
    assert meta["stage"] == "segmenter" and meta["input"]["crop_size"] == 64
    assert meta["validation"]["dice_mean"] > 0.05 and "dice_hidden_mean" in meta["validation"]  # better than nothing found
    segmenter = load_segmenter(result.folder)
    outlines = segmenter.outlines(np.zeros((300, 200), np.float32), [Box(50, 100, 110, 130)])
    assert len(outlines) == 1


@pytest.mark.slow
def test_whole_film_baseline_smoke_run(tmp_path):
    """The seed's approach (one UNet++ on the whole film, instances separated after) trains, describes itself,
    loads through the same ``Segmenter.load`` and scores the hidden part on phantoms."""
    from segmenter.predict import load_segmenter
    from segmenter.training.evaluate import evaluate_segmenter
    from segmenter.training.train import train
    from spine.research.datasets.sources import phantom_annotations

    cfg = configlib.build(SegmenterConfig, {
        "name": "whole", "output": str(tmp_path / "runs"), "mode": "whole_film",
        "data": {"root": str(tmp_path / "none"), "phantoms": 3, "phantom_height_px": 384, "phantom_dir": str(tmp_path / "ph")},
        "whole_film": {"height": 128, "width": 64}, "model": {"decoder_channels": [32, 16, 16, 8, 8]},
        "train": {"epochs": 1, "batch": 2},
    })
    result = train(cfg)
    meta = json.loads((result.folder / "meta.json").read_text())
    assert meta["mode"] == "whole_film" and meta["input"]["height"] == 128
    segmenter = load_segmenter(result.folder)
    film = phantom_annotations(cfg.data, count=1, seed_offset=200_000)[0]
    figures = evaluate_segmenter(segmenter, [film])
    assert figures["dice_mean"] > 0.05 and "dice_hidden_mean" in figures

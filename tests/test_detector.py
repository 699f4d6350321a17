"""Detector stage: config checks, the downscale/decode mapping, and a one-epoch training smoke run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from detector.predict import Detector, decode, prepare
from detector.training.config import DetectorConfig
from spine import config as configlib


def test_imgsz_must_fit_the_stride():
    with pytest.raises(configlib.ConfigError, match=r"multiple of 32 .*; use 512"):
        configlib.build(DetectorConfig, {"model": {"imgsz": 500}})


def test_real_config_loads():
    cfg = configlib.load(DetectorConfig, "configs/detector.yaml")
    assert cfg.model.imgsz % 32 == 0 and len(cfg.priors.expected_levels) == 17


def test_cpu_profile_gives_the_detector_a_wall_clock_budget(tmp_path):
    from detector.training.train import _ultralytics_args
    from pipeline.train_all import flatten

    profile = configlib.read_yaml("configs/profiles/cpu.yaml")["detector"]
    cfg = configlib.load(DetectorConfig, "configs/detector.yaml", flatten(profile))
    args = _ultralytics_args(cfg, tmp_path / "data.yaml", tmp_path)
    assert args["time"] == cfg.train.hours == 1.0 and args["epochs"] == cfg.train.epochs
    assert _ultralytics_args(configlib.load(DetectorConfig, "configs/detector.yaml"), tmp_path, tmp_path)["time"] is None


def test_prepare_downscales_and_pads_to_the_stride():
    film = np.random.default_rng(0).random((2000, 700)).astype(np.float32)
    batch, scale = prepare(film, 512)
    assert scale == pytest.approx(512 / 2000)
    assert batch.shape == (1, 1, 512, 192)  # 700 * 0.256 = 179 -> padded to 192


def test_decode_maps_boxes_back_to_original_pixels():
    scale = 0.25  # a 2000 px film seen at 500 px
    raw = torch.zeros(1, 5, 10)
    raw[0, :4, 3] = torch.tensor([100.0, 200.0, 40.0, 20.0])  # cx, cy, w, h in the downscaled input
    raw[0, 4, 3] = 0.9
    (det,) = decode(raw, scale, conf=0.1, iou=0.5, max_det=10)
    assert det.box.as_list() == pytest.approx([320, 760, 480, 840])
    assert det.score == pytest.approx(0.9) and det.level_scores is None


def test_decode_keeps_level_distributions_for_per_level_models():
    raw = torch.zeros(1, 4 + 3, 4)
    raw[0, :4, 1] = torch.tensor([50.0, 50.0, 10.0, 10.0])
    raw[0, 4:, 1] = torch.tensor([0.1, 0.8, 0.1])
    (det,) = decode(raw, 1.0, conf=0.2, iou=0.5, max_det=5, levels=("T1", "T2", "T3"))
    assert det.level_scores.argmax() == 1 and det.levels == ("T1", "T2", "T3")


@pytest.mark.slow
def test_one_epoch_training_smoke_run(tmp_path):
    from detector.training.train import train

    cfg = configlib.build(DetectorConfig, {
        "name": "smoke", "output": str(tmp_path / "runs"),
        "data": {"root": str(tmp_path / "no-data"), "phantoms": 6, "phantom_height_px": 384, "phantom_dir": str(tmp_path / "ph")},
        "model": {"imgsz": 256}, "train": {"epochs": 1, "batch": 4},
        "export": {"folder": str(tmp_path / "export")},
    })
    result = train(cfg)
    files = {p.name for p in result.folder.iterdir()}
    assert {"weights.safetensors", "config.yaml", "meta.json", "model.yaml"} <= files
    meta = json.loads((result.folder / "meta.json").read_text())
    assert meta["stage"] == "detector" and meta["input"]["imgsz"] == 256 and "validation" in meta
    assert meta["trained_on"]["train"]["phantoms"] == 6
    detector = Detector.load(result.folder)
    from detector.model import raw_outputs
    from detector.predict import prepare

    batch, scale = prepare(np.zeros((600, 300), np.float32), detector.imgsz)
    assert batch.shape == (1, 1, 256, 128) and scale == pytest.approx(256 / 600)
    raw = raw_outputs(detector.network, batch)
    assert raw.shape == (1, 4 + 1, (32 * 16) + (16 * 8) + (8 * 4))  # boxes and one class score per anchor, 3 strides


def _det(x1, y1, x2, y2, score=0.9):
    from spine.contracts import Detection
    from spine.geometry import Box

    return Detection(Box(x1, y1, x2, y2), score)


def test_spine_region_of_a_full_length_film():
    from detector.predict import spine_region

    column = [_det(900, 2000 + 120 * k, 1000, 2080 + 120 * k) for k in range(17)]
    region = spine_region(column, (7000, 2500), margin=0.15)
    assert region is not None and region.y1 < 2000 and region.y2 > 2000 + 120 * 16 + 80
    assert region.x1 < 900 and region.x2 > 1000 and region.area < 0.6 * 7000 * 2500
    assert spine_region(column[:2], (7000, 2500), 0.15) is None  # too few to trust
    cropped_film = [_det(100, 50 + 120 * k, 400, 130 + 120 * k) for k in range(17)]
    assert spine_region(cropped_film, (2100, 500), 0.15) is None  # the spine already fills the film


def test_second_pass_boxes_come_back_in_film_pixels(monkeypatch):
    from detector.predict import Detector

    detector = Detector(network=None, imgsz=512, levels=())
    film = np.zeros((7000, 2500), np.float32)
    calls = []

    def fake_detect_once(pixels):
        calls.append(pixels.shape)
        if pixels.shape == film.shape:  # first pass: coarse boxes down the middle
            return [_det(1000, 2000 + 150 * k, 1100, 2100 + 150 * k, 0.5) for k in range(10)]
        return [_det(10, 20, 110, 120, 0.95)]  # second pass, in the region's own px

    monkeypatch.setattr(detector, "detect_once", fake_detect_once)
    found = detector.detect(film)
    assert len(calls) == 2 and calls[1][0] < film.shape[0]
    region_origin = found[0].box.as_list()[:2]
    assert region_origin[0] > 10 and region_origin[1] > 20  # shifted by the region's corner
    assert found[0].score == pytest.approx(0.95)


def _window_detector(monkeypatch, strong_whole: bool):
    """A detector whose whole-film pass finds 17 vertebrae (strong) or 3 weak ones; in a window (an array shorter
    than the film, whose first row's value is its offset) it finds the same 17 where they lie inside it (strong),
    or a confident column of 9 in its own px."""
    from detector.config import PredictConfig
    from detector.predict import Detector

    detector = Detector(network=None, imgsz=512, levels=(), predict=PredictConfig(two_pass=False))
    film = np.repeat(np.arange(6000, dtype=np.float32)[:, None], 2000, axis=1)
    column = [_det(950, 1500 + 160 * k, 1050, 1620 + 160 * k, 0.9) for k in range(17)]
    calls = []

    def fake_detect_once(pixels):
        calls.append(pixels.shape)
        if pixels.shape == film.shape:
            return column if strong_whole else [_det(950, 1500 + 400 * k, 1050, 1620 + 400 * k, 0.2) for k in range(3)]
        y0, h = int(pixels[0, 0]), pixels.shape[0]
        if strong_whole:
            return [_det(d.box.x1, d.box.y1 - y0, d.box.x2, d.box.y2 - y0, 0.8) for d in column if y0 <= d.box.y1 and d.box.y2 <= y0 + h]
        return [_det(950, 200 + 250 * k, 1050, 400 + 250 * k, 0.9) for k in range(9)]

    monkeypatch.setattr(detector, "detect_once", fake_detect_once)
    return detector, film, calls


def test_windows_down_a_full_length_film_replace_a_weak_whole_film_pass(monkeypatch):
    from detector.priors import PriorsConfig

    detector, film, calls = _window_detector(monkeypatch, strong_whole=False)
    assert len(detector.detect(film)) == 3 and len(calls) == 1  # without the view's priors: the film's pass alone
    found = detector.detect(film, PriorsConfig())
    assert [shape[0] for shape in calls[1:]] == [6000, 3000, 3000, 3000]
    tops = sorted(d.box.y1 for d in found if d.score > 0.5)
    assert tops[0] == pytest.approx(200) and tops[-1] == pytest.approx(3000 + 200 + 250 * 8)  # shifted by each window
    assert len(tops) == 9 * 3 - 2 * 3  # windows at 0, 1500, 3000 px: neighbours share 3 boxes, merged into one each


def test_windows_leave_a_strong_whole_film_chain_alone(monkeypatch):
    from detector.priors import PriorsConfig

    detector, film, calls = _window_detector(monkeypatch, strong_whole=True)
    found = detector.detect(film, PriorsConfig())
    assert len(found) == 17 and all(d.box.height == pytest.approx(120) for d in found)
    assert len(calls) == 1  # strong enough: no window read
    # read them anyway: the windows' chain is no stronger, the whole film's stands
    detector.predict = replace(detector.predict, window_below=2.0)
    assert len(detector.detect(film, PriorsConfig())) == 17 and len(calls) == 1 + 1 + 3
    detector.predict = replace(detector.predict, windows=0)
    assert len(detector.detect(film, PriorsConfig())) == 17 and len(calls) == 1 + 4 + 1


def test_fine_tuning_starts_from_the_init_folders_weights(tmp_path):
    """train.init: ultralytics' trainer gets the folder's network as its ``pretrained`` checkpoint, every weight."""
    from detector.training.train import _ultralytics_args, init_checkpoint
    from spine.offline import configure
    from spine.paths import DEFAULT_MODELS

    configure()
    from ultralytics.nn.tasks import DetectionModel, load_checkpoint

    folder = DEFAULT_MODELS / "detector"
    cfg = configlib.build(DetectorConfig, {"train": {"init": str(folder), "warmup_epochs": 0, "optimizer": "AdamW"}})
    args = _ultralytics_args(cfg, tmp_path / "data.yaml", tmp_path, init_checkpoint(cfg, tmp_path))
    assert args["pretrained"] == str(tmp_path / "init.pt") and args["warmup_epochs"] == 0 and args["optimizer"] == "AdamW"
    weights, _ = load_checkpoint(args["pretrained"])
    fresh = DetectionModel(cfg.model.arch, nc=1, ch=1, verbose=False)
    fresh.load(weights)  # what the trainer does with it
    shipped = Detector.load(folder).network.state_dict()
    assert all(torch.equal(fresh.state_dict()[k], shipped[k].float()) for k in shipped)
    assert init_checkpoint(configlib.build(DetectorConfig, {}), tmp_path) is False
    with pytest.raises(ValueError, match="class"):
        init_checkpoint(configlib.build(DetectorConfig, {"train": {"init": str(folder)}, "model": {"classes": "per_level"}}), tmp_path)

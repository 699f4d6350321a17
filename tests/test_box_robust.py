"""Crop stages that do not lean on the box: the box-error sampler, the bank's reframing, test-time flip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spine.research.boxjitter import BoxJitter, apply_error, relative_error


def test_relative_error_and_apply_error_are_inverse():
    rng = np.random.default_rng(0)
    true = np.array([[10, 20, 60, 50], [100, 100, 140, 180]], float)
    errors = rng.normal(0, 0.1, (2, 4))
    assert np.allclose(relative_error(true, apply_error(true, errors)), errors)
    assert np.allclose(relative_error(true, true), 0)


def test_jitter_sampler_reproduces_the_given_error_distribution():
    mean, std = (0.01, -0.02, 0.05, -0.03), (0.04, 0.07, 0.10, 0.12)
    jitter = BoxJitter(probability=0.75, mean=mean, std=std)
    errors = jitter.sample(np.random.default_rng(1), 40_000)
    moved = np.any(errors != 0, axis=1)
    assert moved.mean() == pytest.approx(0.75, abs=0.01)
    assert np.allclose(errors[moved].mean(axis=0), mean, atol=0.003)
    assert np.allclose(errors[moved].std(axis=0), std, rtol=0.03)
    wide = BoxJitter(probability=1.0, mean=mean, std=std, spread=2.0).sample(np.random.default_rng(2), 40_000)
    assert np.allclose(wide.std(axis=0), 2 * np.array(std), rtol=0.03)


def test_measured_detector_error_round_trips_through_the_sampler():
    """Boxes moved by sampled errors, measured again, give back the sampler's distribution."""
    jitter = BoxJitter(probability=1.0)
    rng = np.random.default_rng(3)
    true = np.column_stack([rng.uniform(0, 500, 5000), rng.uniform(0, 500, 5000)])
    true = np.column_stack([true, true + rng.uniform(20, 80, (5000, 2))])
    measured = relative_error(true, apply_error(true, jitter.sample(rng, 5000)))
    assert np.allclose(measured.mean(axis=0), jitter.mean, atol=0.005)
    assert np.allclose(measured.std(axis=0), jitter.std, rtol=0.05)


def phantom_bank(phantom, folder):
    """The crop bank of one phantom film (stage crop 64 px, margin 0.35, context 0.35) and the film's path."""
    from spine.files import atomic_write_png
    from spine.research.cropbank import CropBank, bank_frame, film_samples
    from spine.research.datasets.annotation import Annotation

    path = atomic_write_png(folder / "f.png", np.round(phantom.image * 65535).astype(np.uint16))
    ann = Annotation(str(path), "p", "phantom", phantom.spine, phantom.image.shape[1], phantom.image.shape[0])
    side, margin = bank_frame(64, 0.35, 0.35)
    cols = list(zip(*film_samples(ann, side, margin, 0)))
    bank = CropBank(np.stack(cols[0]), np.stack(cols[1]), np.stack(cols[2]), np.stack(cols[3]), np.array(cols[4]),
                    np.array(cols[5]), np.array(cols[6]), np.stack(cols[7]))
    return bank, path


def test_bank_crop_without_error_is_the_stage_crop_of_the_film(ap_phantom, tmp_path):
    from spine.crop import Crop
    from spine.radiograph import read_radiograph
    from spine.research.cropdata import stage_crop

    bank, path = phantom_bank(ap_phantom, tmp_path)
    k = 8
    image, mask, _, corners = stage_crop(bank, k, 64, 0.35)
    v = ap_phantom.spine.vertebrae[k]
    direct = Crop.around(v.box, 0.35, 64)
    film = read_radiograph(path).pixels
    assert np.allclose(corners, direct.to_crop(v.corners), atol=0.05)
    assert np.abs(image.astype(float) / 255 - direct.extract(film)).mean() < 0.02
    moved, _, _, moved_corners = stage_crop(bank, k, 64, 0.35, np.array([0.1, 0.0, 0.0, 0.0]))
    shift = Crop.around(v.box, 0.35, 64).scale[0] * 0.1 * v.box.width
    assert np.allclose(moved_corners[:, 0], corners[:, 0] - shift, atol=0.05)


def test_validation_crops_are_moved_the_same_way_every_epoch(ap_phantom, tmp_path):
    from spine.research.cropdata import CropDataset

    bank, _ = phantom_bank(ap_phantom, tmp_path)
    jitter = BoxJitter(probability=1.0)
    fixed = CropDataset(bank, 64, 0.35, jitter=jitter, seed=5, fixed=True)
    assert torch.equal(fixed[3]["corners"], fixed[3]["corners"])
    assert not torch.allclose(fixed[3]["corners"], CropDataset(bank, 64, 0.35)[3]["corners"], atol=0.5)
    drawn = CropDataset(bank, 64, 0.35, jitter=jitter, seed=5)
    assert not torch.equal(drawn[3]["corners"], drawn[3]["corners"])


def test_training_can_start_from_a_model_folder(tmp_path):
    from keypoints.model import build_model
    from keypoints.training.config import KeypointsConfig
    from keypoints.training.train import KeypointModule
    from spine import config as configlib
    from spine.modelfolder import load_state, save_model_folder
    from spine.research.training import start_from

    cfg = configlib.build(KeypointsConfig, {"crop": {"size": 64}, "model": {"pretrained": "none"}})
    folder = save_model_folder(tmp_path / "kp", build_model(cfg.model).state_dict(), cfg, {"stage": "keypoints"})
    module = KeypointModule(cfg)
    start_from(module, folder)
    saved = load_state(folder)
    assert all(torch.equal(value, saved[key]) for key, value in module.model.state_dict().items())


def test_flip_maps_corners_back_in_the_declared_order():
    from keypoints.predict import unflip_corners
    from spine.research.augment import hflip

    corners = np.array([[10.0, 12.0], [50.0, 14.0], [11.0, 40.0], [52.0, 43.0]])  # SL, SR, IL, IR
    image = np.zeros((64, 64), np.uint8)
    _, _, mirrored = hflip(image, [], corners)
    back = unflip_corners(torch.from_numpy(mirrored)[None], 64)[0].numpy()
    assert np.allclose(back, corners)


def test_the_flip_changes_little_on_a_phantom_with_the_shipped_head(ap_phantom):
    from keypoints.config import PredictConfig
    from keypoints.predict import CornerModel
    from pipeline.modelset import DEFAULT_MODELS

    if not (DEFAULT_MODELS / "keypoints" / "meta.json").exists():
        pytest.skip("no shipped keypoint head")
    model = CornerModel.load(DEFAULT_MODELS / "keypoints")
    boxes = [v.box for v in ap_phantom.spine.vertebrae]
    truth = np.stack([v.corners for v in ap_phantom.spine.vertebrae])
    plain = np.stack(model.with_predict(PredictConfig(flip=False)).corners(ap_phantom.image, boxes))
    flipped = np.stack(model.with_predict(PredictConfig(flip=True)).corners(ap_phantom.image, boxes))
    assert np.abs(flipped - plain).mean() < 3.0
    assert np.linalg.norm(flipped - truth, axis=-1).mean() < np.linalg.norm(plain - truth, axis=-1).mean() + 1.5

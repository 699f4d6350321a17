"""An ablation override file runs with one command into its own folder, and its figures reach the table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.ablate import DEFAULT_DETECTOR, rescore, run_ablation
from pipeline.ablate_table import collect
from pipeline.train_all import flatten
from spine import config as configlib


@pytest.mark.slow
def test_segmenter_ablation_runs_and_is_collected(tmp_path):
    override = tmp_path / "segmenter__no_ds_tiny.yaml"
    override.write_text('stage: segmenter\ndescription: "deep supervision off"\noverrides: {model: {deep_supervision: false}}\n')
    tiny = configlib.read_yaml(Path(__file__).resolve().parents[1] / "configs/profiles/tiny.yaml")["segmenter"]
    # the tiny profile's 3 epochs: after 1 the Dice was left to chance
    sets = flatten(tiny) + [f"cache={tmp_path / 'crops'}", f"data.phantom_dir={tmp_path / 'phantoms'}"]
    record = run_ablation(override, sets, runs=tmp_path / "ablations", detector=DEFAULT_DETECTOR)
    figures_path = tmp_path / "ablations" / "segmenter__no_ds_tiny" / "figures.json"
    saved = json.loads(figures_path.read_text())
    assert saved["figures"] == json.loads(json.dumps(record["figures"]))
    assert saved["figures"]["dice_mean"] > 0.05 and "dice_hidden_mean" in saved["figures"]["phantoms"]
    cascade = saved["figures"]["cascade"]
    assert cascade["dice_mean"] > 0.05 and cascade["vertebrae_total"] == saved["figures"]["vertebrae_total"]
    del saved["figures"]["cascade"]
    figures_path.write_text(json.dumps(saved))
    assert rescore(tmp_path / "ablations", DEFAULT_DETECTOR) == ["segmenter__no_ds_tiny"]
    assert json.loads(figures_path.read_text())["figures"]["cascade"] == cascade
    config = configlib.read_yaml(tmp_path / "ablations" / "segmenter__no_ds_tiny" / "model" / "config.yaml")
    assert config["model"]["deep_supervision"] is False
    table = collect(tmp_path / "ablations")
    assert "| segmenter__no_ds_tiny | segmenter | deep supervision off |" in table
    assert (tmp_path / "ablations" / "results.md").read_text() == table


def test_keypoint_arm_without_training_is_scored_on_truth_and_detector_boxes(tmp_path):
    from spine.paths import DEFAULT_MODELS

    head = str(DEFAULT_MODELS / "keypoints")
    override = tmp_path / "keypoints__no_flip_tiny.yaml"
    override.write_text(f'stage: keypoints\ndescription: "no flip"\noverrides: {{predict: {{flip: false}}}}\nevaluate_only: {head}\n')
    tiny = configlib.read_yaml(Path(__file__).resolve().parents[1] / "configs/profiles/tiny.yaml")["keypoints"]
    sets = flatten(tiny) + [f"data.phantom_dir={tmp_path / 'phantoms'}"]
    record = run_ablation(override, sets, runs=tmp_path / "ablations", detector=DEFAULT_DETECTOR)
    assert record["model"] == head
    truth_boxes, detector_boxes = record["figures"]["corners"], record["figures"]["cascade"]["corners"]
    assert truth_boxes["mean_px"] < 3.0 and detector_boxes["mean_px"] < 4.0  # the shipped head without its flip, phantoms
    assert record["figures"]["cascade"]["detector"] == str(DEFAULT_DETECTOR)


def test_a_detector_arm_is_scored_with_its_model_set_s_level_identifier(tmp_path):
    from pipeline.ablate import _sibling_levels
    from spine.paths import DEFAULT_MODELS

    assert _sibling_levels(DEFAULT_MODELS / "detector") is not None  # models/default/levels
    lone = tmp_path / "set" / "detector"
    lone.mkdir(parents=True)
    assert _sibling_levels(lone) is None  # a detector folder on its own: no identifier, no after_levels row

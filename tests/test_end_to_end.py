"""End to end on synthetic films: train_all (tiny profile) -> infer -> evaluate; and the shipped model on a phantom."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.demo import make_sample
from pipeline.models import DEFAULT_MODELS


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from pipeline import config as configlib
    from pipeline.train_all import PipelineConfig, train_all

    out = tmp_path_factory.mktemp("train_all")
    cfg = configlib.build(PipelineConfig, {"name": "tiny", "output": str(out), "profile": "tiny",
                                           "data": {"phantom_dir": str(out / "phantoms")}})
    sets = [f"{stage}.cache={out / 'crops'}" for stage in ("levels", "segmenter", "keypoints")]
    sets.append(f"detector.export.folder={out / 'export'}")
    return train_all(cfg, sets)


def test_train_all_writes_a_self_describing_model_set(tiny_models):
    meta = json.loads((tiny_models / "meta.json").read_text())
    assert meta["format"] == "spine-model-set/1" and set(meta["stages"]) == {"detector", "levels", "segmenter", "keypoints"}
    for stage in ("detector", "levels", "segmenter", "keypoints"):
        files = {p.name for p in (tiny_models / stage).iterdir()}
        assert {"weights.safetensors", "config.yaml", "meta.json"} <= files
        assert meta["stages"][stage]["validation"] is not None
    assert (tiny_models / "pipeline.yaml").exists()


def test_rerun_resumes_instead_of_retraining(tiny_models, capsys):
    from pipeline import config as configlib
    from pipeline.train_all import PipelineConfig, train_all

    run = tiny_models.parent
    cfg = configlib.build(PipelineConfig, {"name": run.name, "output": str(run.parent), "profile": "tiny"})
    train_all(cfg)
    assert capsys.readouterr().out.count("skipped") == 4


def test_infer_and_evaluate_on_phantoms(tiny_models, tmp_path):
    from pipeline.evaluate import main as evaluate_main
    from pipeline.infer import main as infer_main
    from pipeline.phantom import PhantomSpec, make_phantom, write_phantom

    film = make_sample(tmp_path / "films", "AP", seed=5)
    assert infer_main([str(film), "--out", str(tmp_path / "out"), "--models", str(tiny_models), "--quiet"]) == 0
    result = json.loads((tmp_path / "out" / f"{film.stem}.json").read_text())
    truth = json.loads(film.with_suffix(".json").read_text())
    assert result["schema"] == truth["schema"] == "spine-geometry/1"
    assert result["image"]["spacing_mm"] == pytest.approx(truth["image"]["spacing_mm"], rel=1e-4)
    assert (result["image"]["width"], result["image"]["height"]) == (truth["image"]["width"], truth["image"]["height"])
    if result["vertebrae"]:
        assert len(result["vertebrae"]) <= 2 * len(truth["vertebrae"])
        assert all(len(v["corners"]) == 4 for v in result["vertebrae"])
        assert result["measurements"]["units"] == "mm"
    else:
        assert any("no spine" in w for w in result["warnings"])
    for k in range(2):
        write_phantom(make_phantom(PhantomSpec(seed=300 + k, height_px=384)), tmp_path / "set", f"p{k}", fmt="png")
    assert evaluate_main(["--data", str(tmp_path / "set"), "--format", "phantom", "--models", str(tiny_models),
                          "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["films"] == 2 and {"detection", "segmentation", "corners", "cobb_measured"} <= set(report)
    assert 0 <= report["segmentation"]["oracle"]["dice_mean"] <= 1
    assert (tmp_path / "report.md").read_text().startswith("# Evaluation")


@pytest.mark.skipif(not (DEFAULT_MODELS / "meta.json").exists(), reason="no shipped model in models/default")
def test_shipped_model_measures_a_phantom_close_to_its_truth(tmp_path):
    from pipeline.infer import infer
    from pipeline.models import ModelSet
    from pipeline.radiograph import read_radiograph
    from pipeline.result import read_result

    film = make_sample(tmp_path, "AP", seed=7)
    truth = read_result(film.with_suffix(".json"))
    result = infer(read_radiograph(film), ModelSet.load())
    assert abs(len(result.spine) - len(truth.spine)) <= 1
    found = result.measurements["cobb"][0]["angle_deg"]
    expected = json.loads(film.with_suffix(".json").read_text())["ground_truth"]["cobb"][0]["angle_deg"]
    assert abs(found - expected) < 10
    centres = np.array([v.center for v in result.spine.vertebrae])
    assert np.all(np.diff(centres[:, 1]) > 0)

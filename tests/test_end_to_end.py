"""End to end on synthetic films: train_all (tiny profile) -> infer -> evaluate; and the shipped model on a phantom."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.modelset import DEFAULT_MODELS
from spine import config as configlib
from spine.modelfolder import read_meta
from spine.phantom import sample_film


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    from pipeline.train_all import PipelineConfig, train_all

    out = tmp_path_factory.mktemp("train_all")
    cfg = configlib.build(PipelineConfig, {"name": "tiny", "output": str(out), "profile": "tiny",
                                           "data": {"phantom_dir": str(out / "phantoms")}})
    sets = [f"{stage}.cache={out / 'crops'}" for stage in ("levels", "levelmap", "segmenter", "keypoints")]
    sets.append(f"detector.export.folder={out / 'export'}")
    return train_all(cfg, sets)


@pytest.mark.slow
def test_train_all_writes_a_self_describing_model_set(tiny_models):
    meta = json.loads((tiny_models / "meta.json").read_text())
    assert meta["format"] == "spine-model-set/1" and set(meta["stages"]) == {"detector", "levels", "levelmap", "segmenter", "keypoints"}
    assert configlib.read_yaml(tiny_models / "pipeline.yaml")["reframe"] == "outline"
    for stage in ("detector", "levels", "levelmap", "segmenter", "keypoints"):
        files = {p.name for p in (tiny_models / stage).iterdir()}
        assert {"weights.safetensors", "config.yaml", "meta.json"} <= files
        assert meta["stages"][stage]["validation"] is not None
    assert (tiny_models / "pipeline.yaml").exists()
    for stage in ("segmenter", "keypoints"):  # configs/pipeline.yaml int8: quantised after assembling, and in use
        assert (tiny_models / stage / "int8.onnx").exists() and "int8" in read_meta(tiny_models / stage)
        assert configlib.read_yaml(tiny_models / stage / "config.yaml")["predict"]["runtime"] == "onnx-int8"


@pytest.mark.slow
def test_rerun_resumes_instead_of_retraining(tiny_models, capsys):
    from pipeline.train_all import PipelineConfig, train_all
    from spine import config as configlib

    run = tiny_models.parent
    cfg = configlib.build(PipelineConfig, {"name": run.name, "output": str(run.parent), "profile": "tiny"})
    train_all(cfg)
    assert capsys.readouterr().out.count("skipped") == 5  # detector, levels, levelmap, segmenter, keypoints


@pytest.mark.slow
def test_infer_and_evaluate_run_on_a_trained_model_set(tiny_models, tmp_path):
    """Plumbing: a freshly trained (tiny, so inaccurate) set loads, measures and evaluates; accuracy is the shipped
    model's test below."""
    from pipeline.evaluate import main as evaluate_main
    from pipeline.infer import main as infer_main
    from spine.phantom import PhantomSpec, make_phantom, write_phantom

    film = sample_film(tmp_path / "films", "AP", seed=5)
    assert infer_main([str(film), "--out", str(tmp_path / "out"), "--models", str(tiny_models), "--quiet"]) == 0
    result = json.loads((tmp_path / "out" / f"{film.stem}.json").read_text())
    truth = json.loads(film.with_suffix(".json").read_text())
    assert result["schema"] == truth["schema"] == "spine-geometry/1"
    assert result["image"]["spacing_mm"] == pytest.approx(truth["image"]["spacing_mm"], rel=1e-4)
    assert (result["image"]["width"], result["image"]["height"]) == (truth["image"]["width"], truth["image"]["height"])
    for k in range(2):
        write_phantom(make_phantom(PhantomSpec(seed=300 + k, height_px=384)), tmp_path / "set", f"p{k}", fmt="png")
    assert evaluate_main(["--data", str(tmp_path / "set"), "--format", "phantom", "--models", str(tiny_models),
                          "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["films"] == 2 and {"detection", "segmentation", "corners", "cobb_measured"} <= set(report)
    assert (tmp_path / "report.md").read_text().startswith("# Evaluation")


@pytest.mark.skipif(not (DEFAULT_MODELS / "meta.json").exists(), reason="no shipped model in models/default")
def test_shipped_model_segments_and_places_corners_on_phantoms(tmp_path):
    from pipeline.evaluate import main as evaluate_main
    from spine.phantom import PhantomSpec, make_phantom, write_phantom

    for k in range(2):
        write_phantom(make_phantom(PhantomSpec(seed=400 + k, height_px=768)), tmp_path / "set", f"p{k}", fmt="png")
    assert evaluate_main(["--data", str(tmp_path / "set"), "--format", "phantom", "--out", str(tmp_path / "report")]) == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["detection"]["after_priors"]["recall@0.5"] >= 0.9
    assert report["segmentation"]["oracle"]["dice_mean"] > 0.9 and report["segmentation"]["cascade"]["dice_mean"] > 0.85
    assert report["corners"]["oracle"]["corners"]["mean_px"] < 4.0 and report["corners"]["cascade"]["corners"]["mean_px"] < 6.0
    for section in (report["segmentation"]["cascade"], report["corners"]["cascade"], report["cobb_measured"]["oracle"]):
        assert len(section["per_film"]) == 2
    corners = report["corners"]["cascade"]["per_film"].values()
    mean = sum(r["mean_px"] * r["corners"] for r in corners) / sum(r["corners"] for r in corners)
    assert mean == pytest.approx(report["corners"]["cascade"]["corners"]["mean_px"])  # the rows add up to the figure
    from pipeline.compare_reports import main as compare_main

    out = tmp_path / "same.json"
    assert compare_main([str(tmp_path / "report.json"), str(tmp_path / "report.json"), "--out", str(out), "--resamples", "99"]) == 0
    rows = {r["figure"]: r for r in json.loads(out.read_text())["figures"]}
    assert rows["corners, detector's boxes: mean px"]["difference"] == 0 and rows["Dice, true boxes"]["films"] == 2


@pytest.mark.skipif(not (DEFAULT_MODELS / "meta.json").exists(), reason="no shipped model in models/default")
def test_shipped_model_measures_a_phantom_close_to_its_truth(tmp_path, shipped_models):
    from pipeline.core import measure_film
    from spine.radiograph import read_radiograph
    from spine.result import read_result

    film = sample_film(tmp_path, "AP", seed=7)
    truth = read_result(film.with_suffix(".json"))
    result = measure_film(read_radiograph(film), shipped_models)
    assert abs(len(result.spine) - len(truth.spine)) <= 1 and len(result.spine) >= 15
    from spine.research.metrics import pair_by_overlap

    pairs = pair_by_overlap(
        np.array([v.box.as_list() for v in truth.spine.vertebrae]), np.array([v.box.as_list() for v in result.spine.vertebrae])
    )
    assert len(pairs) >= 15
    errors = [np.linalg.norm(result.spine.vertebrae[f].corners - truth.spine.vertebrae[t].corners, axis=1).mean() for t, f in pairs.items()]
    assert np.mean(errors) < 6.0  # image px on a 1280 px film
    found = result.measurements["cobb"][0]["angle_deg"]
    expected = json.loads(film.with_suffix(".json").read_text())["ground_truth"]["cobb"][0]["angle_deg"]
    assert abs(found - expected) < 10
    centres = np.array([v.center for v in result.spine.vertebrae])
    assert np.all(np.diff(centres[:, 1]) > 0)

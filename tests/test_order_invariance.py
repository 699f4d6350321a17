"""Measurements are a function of the geometry, not of the file: any order of the vertebrae array gives the same
numbers, a shuffled copy compares as unchanged, duplicates and disorder are reported (issue 12, case 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.measure import main as measure_main
from spine.measures import compare, measure_spine
from spine.phantom import sample_film
from spine.result import read_result


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    folder = tmp_path_factory.mktemp("order")
    return sample_film(folder, "AP", seed=3).with_suffix(".json"), sample_film(folder, "LAT", seed=4).with_suffix(".json")


def _shuffled(path, tmp_path, seed: int):
    data = json.loads(path.read_text())
    order = np.random.default_rng(seed).permutation(len(data["vertebrae"]))
    data["vertebrae"] = [data["vertebrae"][i] for i in order]
    out = tmp_path / f"shuffled_{seed}_{path.name}"
    out.write_text(json.dumps(data))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_any_permutation_gives_identical_measurements(sample, tmp_path, seed):
    for path in sample:
        truth = read_result(path)
        reference, _ = measure_spine(truth.spine, truth.image.height)
        shuffled = read_result(_shuffled(path, tmp_path, seed))
        measured, warnings = measure_spine(shuffled.spine, shuffled.image.height)
        assert json.dumps(measured, sort_keys=True, default=str) == json.dumps(reference, sort_keys=True, default=str)
        assert compare(reference, measured)["flags"] == []
        assert all(abs(d["change"]) < 1e-9 for d in compare(reference, measured)["differences"].values())
        assert any("not in cranial-to-caudal order" in w for w in warnings)


def test_reversed_result_keeps_its_major_curve_and_compare_sees_no_change(sample, tmp_path, capsys):
    path = sample[0]
    data = json.loads(path.read_text())
    data["vertebrae"] = data["vertebrae"][::-1]
    (tmp_path / "reversed.json").write_text(json.dumps(data))
    assert measure_main([str(tmp_path / "reversed.json"), "--compare", str(path), "--out", str(tmp_path / "c.json")]) == 0
    out = json.loads((tmp_path / "c.json").read_text())
    assert out["comparison"]["flags"] == []
    assert [v["level"] for v in out["vertebrae"]] == [v["level"] for v in json.loads(path.read_text())["vertebrae"]]
    original = measure_spine(read_result(path).spine, 1)[0]["cobb"][0]
    assert (out["measurements"]["cobb"][0]["upper"], out["measurements"]["cobb"][0]["direction"]) == (
        original["upper"],
        original["direction"],
    )


def test_t1_moved_to_the_end_invents_no_curve(sample, tmp_path):
    path = sample[0]
    data = json.loads(path.read_text())
    data["vertebrae"] = data["vertebrae"][1:] + data["vertebrae"][:1]
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(data))
    a, b = read_result(path), read_result(moved)
    assert measure_spine(a.spine, 1)[0]["cobb"] == measure_spine(b.spine, 1)[0]["cobb"]


def test_duplicate_level_is_reported_and_every_copy_measured(sample, tmp_path):
    data = json.loads(sample[0].read_text())
    data["vertebrae"][6]["level"] = data["vertebrae"][5]["level"]  # T6 renamed T7's neighbour: two T6
    path = tmp_path / "dup.json"
    path.write_text(json.dumps(data))
    measured, warnings = measure_spine(read_result(path).spine, 1)
    name = data["vertebrae"][5]["level"]
    assert any(f"level {name} is named 2 times" in w for w in warnings)
    assert name in measured["per_vertebra"] and f"{name} (2)" in measured["per_vertebra"]
    assert len(measured["per_vertebra"]) == len(data["vertebrae"])

"""The speed bench's arms set what they say (bench/pipeline_speed.py), and it times the product's own core."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from spine.config import ConfigError

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pipeline_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("pipeline_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses resolve their annotations through it
    spec.loader.exec_module(module)
    return module


def test_an_arm_says_how_the_found_boxes_are_redrawn_and_what_runs(bench, shipped_models):
    models = shipped_models
    assert bench.arm_models(models, bench.parse_arm("runtime=onnx,reframe=none")).finder.redraw is None
    outline = bench.arm_models(models, bench.parse_arm("runtime=onnx,flip=true,reframe=outline"))
    assert outline.finder.redraw is outline.segmenter and outline.corners.flip and outline.corners.runtime == "onnx"
    same = bench.arm_models(models, bench.parse_arm(""))
    assert same.options == models.options and same.corners is models.corners
    with pytest.raises(ConfigError, match="runtime"):
        bench.parse_arm("runtime=fast")
    with pytest.raises(ConfigError, match="colour"):
        bench.parse_arm("colour=red")


def test_a_film_is_timed_step_by_step_by_the_product_s_core(bench, shipped_models, ap_phantom):
    row = bench.time_film(shipped_models, ap_phantom.image)
    assert row["vertebrae"] >= 10 and all(row[step] >= 0 for step in bench.STEPS)
    assert row["detect"] > 0 and row["corners"] > 0 and sum(row[step] for step in bench.STEPS) <= row["total"]

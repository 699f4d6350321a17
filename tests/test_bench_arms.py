"""The speed bench's arms set what they say (bench/pipeline_speed.py): re-framing off, from the outlines, or the set's."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from pipeline.modelset import ModelSet

BENCH = Path(__file__).resolve().parents[1] / "bench" / "pipeline_speed.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("pipeline_speed", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_arm_says_how_the_found_boxes_are_redrawn(bench):
    models = ModelSet.load()
    assert bench.arm_models(models, "onnx+noframe").finder.redraw is None
    outline = bench.arm_models(models, "onnx+flip+outline")
    assert outline.finder.redraw is outline.segmenter and outline.corners.flip and outline.corners.runtime == "onnx"
    assert bench.arm_models(models, "int8").options.reframe == models.options.reframe
    with pytest.raises(SystemExit, match="noframe or \\+outline"):
        bench.arm_models(models, "onnx+noframe+outline")

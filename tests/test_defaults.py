"""One source for every value: a stage config built from nothing describes the model that ships, and each stage
YAML says the same as the defaults (it only adds where the data and runs live)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.stages import STAGES
from spine import config as configlib

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "models" / "default"
# what the network is and how it is used
ARCHITECTURE = ("model", "crop", "frame", "evidence", "predict", "priors", "decode", "mode", "whole_film", "loss")


@pytest.mark.parametrize("stage", [s for s in STAGES], ids=lambda s: s.name)
def test_defaults_are_the_shipped_model(stage):
    folder = SHIPPED / stage.name
    if not (folder / "config.yaml").exists():
        pytest.skip(f"no shipped {stage.name} model")
    cls = stage.config_class()
    default = configlib.to_dict(configlib.build(cls, {}))
    shipped = configlib.to_dict(configlib.load(cls, folder / "config.yaml"))
    runtime = shipped.get("predict", {}).pop("runtime", None)
    default.get("predict", {}).pop("runtime", None)
    for section in ARCHITECTURE:
        if section in shipped:
            assert shipped[section] == default[section], f"{stage.name}.{section}: shipped {shipped[section]} != default {default[section]}"
    if runtime is not None:  # the runtime is the set's: train_all switches the stages listed under int8 to their twins
        int8 = configlib.read_yaml(ROOT / "configs" / "pipeline.yaml")["int8"]
        assert (runtime == "onnx-int8") == (stage.name in int8), f"{stage.name}: runtime {runtime}, configs/pipeline.yaml int8 {int8}"


@pytest.mark.parametrize("stage", [s for s in STAGES], ids=lambda s: s.name)
def test_stage_yaml_repeats_the_defaults(stage):
    cls = stage.config_class()
    default = configlib.to_dict(configlib.build(cls, {}))
    from_yaml = configlib.to_dict(configlib.load(cls, ROOT / stage.yaml))
    local = {"root", "label_policy"}  # where the data lives on this machine, how its known label errors are handled
    for section, values in from_yaml.items():
        if isinstance(values, dict):
            differing = {k for k in values if values[k] != default[section][k]} - local
            assert not differing, f"{stage.yaml} {section}: {sorted(differing)} differ from the defaults"
        else:
            assert values == default[section], f"{stage.yaml} {section}: {values} != default {default[section]}"


def test_the_shipped_sets_options_are_the_pipeline_configs():
    """train_all writes configs/pipeline.yaml's options (box re-framing, default view) into a set's pipeline.yaml;
    the shipped set says the same."""
    options = configlib.read_yaml(ROOT / "configs" / "pipeline.yaml")["options"]
    shipped = configlib.read_yaml(SHIPPED / "pipeline.yaml")
    assert {key: shipped.get(key) for key in options} == options

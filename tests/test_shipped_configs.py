"""Every shipped config loads and validates: stage configs, profiles, the pipeline config and each ablation file."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.ablate import stage_config
from pipeline.train_all import STAGES, PipelineConfig, stage_sets
from spine import config as configlib

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "configs" / "ablations").glob("*.yaml")), ids=lambda p: p.stem)
def test_ablation_files_hold_only_changes_and_load(path):
    spec = configlib.read_yaml(path)
    assert set(spec) <= {"stage", "description", "overrides", "evaluate_only", "films"} and spec["description"]
    assert path.stem.startswith(spec["stage"] + "__")
    cfg = stage_config(spec["stage"], spec.get("overrides") or {}, [f"name={path.stem}"])
    assert cfg.name == path.stem


@pytest.mark.parametrize("profile", sorted(p.stem for p in (ROOT / "configs" / "profiles").glob("*.yaml")))
def test_profiles_apply_to_every_stage(profile):
    cfg = configlib.load(PipelineConfig, ROOT / "configs" / "pipeline.yaml", [f"profile={profile}"])
    tree = configlib.read_yaml(ROOT / "configs" / "profiles" / f"{profile}.yaml")
    for stage in STAGES:
        sets = stage_sets(stage, cfg, tree, [], None, None)
        built = stage_config(stage, {}, sets)
        assert built.name == stage

"""Several processes: a tiny segmenter run with Lightning DDP on two CPU processes (gloo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_two_cpu_processes_with_ddp(tmp_path):
    sets = {
        "name": "ddp", "output": str(tmp_path / "runs"), "cache": str(tmp_path / "crops"),
        "data.root": str(tmp_path / "none"), "data.phantoms": 4, "data.phantom_height_px": 384,
        "data.phantom_dir": str(tmp_path / "ph"), "crop.size": 64, "model.decoder_channels": "[32, 16, 16, 8, 8]",
        "train.epochs": 1, "train.batch": 8, "train.accelerator": "cpu", "train.devices": 2, "train.strategy": "ddp",
        "train.threads": 1,
    }
    command = [sys.executable, "-m", "segmenter.training.train", "--config", "configs/segmenter.yaml"]
    command += [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Initializing distributed: GLOBAL_RANK: 1, MEMBER: 2/2" in done.stdout + done.stderr
    meta = json.loads((tmp_path / "runs" / "ddp" / "model" / "meta.json").read_text())
    assert meta["stage"] == "segmenter" and "validation" in meta

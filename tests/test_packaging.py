"""A plain (not editable) install finds its configs and the shipped model from any folder, and installs the
console scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
SOURCE_ROOTS = ("spine", "pipeline", "detector", "segmenter", "keypoints")


def test_every_source_package_is_in_the_wheel_list():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in SOURCE_ROOTS
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert on_disk - listed == set()


@pytest.mark.slow
def test_a_built_wheel_carries_configs_model_and_scripts(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "wheel"), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    wheel = next((tmp_path / "wheel").glob("*.whl"))
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(tmp_path / "site"), str(wheel), "-q"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert {"spine-infer", "spine-measure", "spine-review", "spine-node"} <= {p.name for p in (tmp_path / "site" / "bin").iterdir()}
    site_packages = next(p for p in sys.path if p.endswith("site-packages"))
    probe = (
        "import pipeline, spine.paths as p; from pipeline.modelset import ModelSet; m = ModelSet.load(); "
        "print(pipeline.__file__, p.REPO_ROOT, (p.CONFIGS / 'levels.yaml').exists(), type(m.detector).__name__, "
        "m.provenance['runtimes']['segmenter'], m.provenance['runtimes']['keypoints'])"
    )
    env = {**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}{os.pathsep}{site_packages}"}
    # the system interpreter, so that the checkout's editable install (a .pth of this venv) is not in play
    done = subprocess.run(["python3", "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    package_file, root, has_configs, detector, *runtimes = done.stdout.split()
    assert package_file.startswith(str(tmp_path / "site")) and root.endswith("spine/assets")
    assert has_configs == "True" and detector == "Detector"
    assert runtimes == ["onnx-int8", "onnx-int8"]  # the 8-bit twins travel with the model

"""What a hospital runs loads no research code: a fresh interpreter measures a film with ``pipeline.infer``,
re-measures its result with ``pipeline.measure`` and imports the review page and the DICOM node; none of the
training, dataset, augmentation, evaluation, ablation or bench code, nor Lightning or albumentations, is loaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parents[1]
RESEARCH = ("spine.research", "detector.training", "detector.levels.training", "detector.levelmap.training",
            "segmenter.training", "keypoints.training", "pipeline.evaluate", "pipeline.ablate", "pipeline.ablate_table",
            "pipeline.train_all", "pipeline.quantize", "pipeline.compare_reports", "pipeline.find_copies", "pipeline.demo",
            "bench", "lightning", "pytorch_lightning", "albumentations")

PROBE = """
import json, sys
from pipeline.infer import main as infer
from pipeline.measure import main as measure
film, out = sys.argv[1], sys.argv[2]
assert infer([film, "--out", out, "--quiet"]) == 0
assert measure([out + "/ap.json"]) == 0
import pipeline.node, pipeline.review.app, pipeline.review.store
print("MODULES " + json.dumps(sorted(sys.modules)))
"""


def test_measuring_a_film_loads_no_research_code(tmp_path, ap_phantom):
    film = tmp_path / "ap.png"
    cv2.imwrite(str(film), (ap_phantom.image * 65535).astype("uint16"))
    env = {**os.environ, "YOLO_OFFLINE": "1", "NO_ALBUMENTATIONS_UPDATE": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, str(film), str(tmp_path / "out")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((tmp_path / "out" / "ap.json").read_text())["vertebrae"]  # a spine was measured
    loaded = json.loads(done.stdout.split("MODULES ", 1)[1])
    research = [m for m in loaded if any(m == r or m.startswith(r + ".") for r in RESEARCH)]
    assert research == []

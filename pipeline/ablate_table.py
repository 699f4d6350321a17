"""The table of finished ablation runs: each arm's headline figures, per stage, from its ``figures.json``
(``python -m pipeline.ablate --collect``)."""

from __future__ import annotations

import json
from pathlib import Path

from spine.files import atomic_write_text

NAMING = (("films all levels right", ("films_all_levels_correct",)), ("levels right", ("levels_correct",)),
          ("vertebrae named right", ("vertebrae_named_right",)))
HEADLINE = {
    "detector": [
        ("AP50", ("AP50",)),
        ("AP50-95", ("AP50-95",)),
        ("levels right (after priors)", ("after_priors", "levels_correct")),
        ("films all levels right (after priors)", ("after_priors", "films_all_levels_correct")),
        ("recall@0.5 (after priors)", ("after_priors", "recall@0.5")),
    ],
    "levels": [
        *NAMING,
        *((f"{label} (full-length films)", ("challenge", *keys)) for label, keys in NAMING),
        *((f"{label} (phantoms)", ("phantoms", *keys)) for label, keys in NAMING),
    ],
    "segmenter": [
        ("Dice mean", ("dice_mean",)),
        ("IoU mean", ("iou_mean",)),
        ("Dice hidden part (phantoms)", ("phantoms", "dice_hidden_mean")),
        ("Dice on detector boxes", ("cascade", "dice_mean")),
    ],
    "keypoints": [
        ("corner mean px", ("corners", "mean_px")),
        ("corner median px", ("corners", "median_px")),
        ("AASCE SMAPE %", ("cobb_aasce", "smape")),
        ("corner mean px on detector boxes", ("cascade", "corners", "mean_px")),
        ("AASCE SMAPE % on detector boxes", ("cascade", "cobb_aasce", "smape")),
    ],
}


def _pick(figures: dict, keys: tuple) -> object:
    for key in keys:
        figures = figures.get(key) if isinstance(figures, dict) else None
    return figures


def collect(runs: str | Path = "runs/ablations") -> str:
    """Markdown table of every ablation's headline figures."""
    rows = ["| ablation | stage | what changes | figures |", "|---|---|---|---|"]
    for path in sorted(Path(runs).glob("*/figures.json")):
        record = json.loads(path.read_text())
        cells = [
            f"{label} {value:.3f}" if isinstance(value, float) else f"{label} {value}"
            for label, keys in HEADLINE[record["stage"]]
            if (value := _pick(record["figures"], keys)) is not None
        ]
        rows.append(f"| {record['ablation']} | {record['stage']} | {record['description']} | {'; '.join(cells)} |")
    table = "\n".join(rows) + "\n"
    atomic_write_text(Path(runs) / "results.md", table)
    return table

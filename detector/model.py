"""The detection network: an ultralytics YOLO built from its yaml, 1-channel input, returning raw outputs."""

from __future__ import annotations

import pipeline  # noqa: F401  (offline switches before ultralytics is imported)

import copy

import torch


def build_network(model_yaml: dict | str, nc: int):
    """An ultralytics DetectionModel with a 1-channel stem and ``nc`` classes, randomly initialised."""
    from ultralytics.nn.tasks import DetectionModel

    cfg = copy.deepcopy(model_yaml) if isinstance(model_yaml, dict) else model_yaml
    return DetectionModel(cfg, ch=1, nc=nc, verbose=False)


def trainer_model(arch: str):
    """The ultralytics YOLO wrapper that drives training, built from ``arch`` (a yaml name; nothing downloaded)."""
    from ultralytics import YOLO

    return YOLO(arch, task="detect")


@torch.no_grad()
def raw_outputs(network, batch: torch.Tensor) -> torch.Tensor:
    """(B, 4 + nc, anchors): boxes as (cx, cy, w, h) in input px, then per-class sigmoid scores."""
    out = network(batch)
    return out[0] if isinstance(out, (list, tuple)) else out

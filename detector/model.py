"""The detection network: an ultralytics YOLO built from its yaml, 1-channel input, returning raw outputs.

A model folder is data, never code: ultralytics' model parser would ``eval()`` a yaml's ``activation`` string,
so a folder's ``model.yaml`` is checked against what a YOLO architecture may hold (known keys, known layers,
literal arguments, an activation of the form ``nn.Name()``) before it is built, and it is built under
ultralytics' restricted loading (``ULTRALYTICS_SAFE_LOAD``), which resolves the activation without ``eval()``.
"""

from __future__ import annotations

import copy
import re

import torch

YAML_KEYS = {"nc", "scales", "scale", "backbone", "head", "activation", "depth_multiple", "width_multiple",
             "max_channels", "kpt_shape", "channels", "ch", "yaml_file", "reg_max", "end2end"}
LAYERS = {"Conv", "C3k2", "SPPF", "C2PSA", "C2f", "C3", "Bottleneck", "SPP", "Concat", "Detect", "nn.Upsample",
          "DWConv", "C2fPSA", "PSA", "A2C2f", "AConv", "ADown", "SCDown", "C3k", "RepC3"}
ACTIVATION = re.compile(r"^(torch\.)?nn\.[A-Za-z][A-Za-z0-9]*\(\)$")


class UnsafeModelError(ValueError):
    """A model folder whose architecture file holds something other than plain architecture data."""


def _literal(value) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_literal(v) for v in value)
    return value is None or isinstance(value, (bool, int, float)) or (isinstance(value, str) and value in ("None", "nc", "nearest"))


def check_model_yaml(model_yaml: dict) -> dict:
    """``model_yaml`` when it is plain YOLO architecture data; else :class:`UnsafeModelError` naming what is wrong."""
    if not isinstance(model_yaml, dict):
        raise UnsafeModelError("model.yaml must be a mapping")
    unknown = sorted(set(model_yaml) - YAML_KEYS)
    if unknown:
        raise UnsafeModelError(f"model.yaml holds unknown key(s) {unknown}")
    act = model_yaml.get("activation")
    if act is not None and not (isinstance(act, str) and ACTIVATION.match(act.strip())):
        raise UnsafeModelError(f"model.yaml activation {str(act)[:80]!r} is not of the form nn.Name(): refused (it would run as code)")
    for part in ("backbone", "head"):
        for row in model_yaml.get(part) or []:
            ok = isinstance(row, list) and len(row) == 4 and row[2] in LAYERS and _literal(row[0]) and _literal(row[1]) and _literal(row[3])
            if not ok:
                raise UnsafeModelError(f"model.yaml {part} row {str(row)[:80]} is not a known layer with literal arguments: refused")
    return model_yaml


def build_network(model_yaml: dict | str, nc: int):
    """An ultralytics DetectionModel with a 1-channel stem and ``nc`` classes, randomly initialised. A dict (a model
    folder's yaml) is checked first (:func:`check_model_yaml`); a string names a yaml shipped with ultralytics."""
    from spine.offline import configure

    configure()
    from ultralytics.nn import tasks

    cfg = copy.deepcopy(check_model_yaml(model_yaml)) if isinstance(model_yaml, dict) else model_yaml
    local = tasks._SafeLoad._local  # restricted construction for this thread, whatever the environment says
    before = getattr(local, "active", False)
    local.active = True
    try:
        return tasks.DetectionModel(cfg, ch=1, nc=nc, verbose=False)
    finally:
        local.active = before


def trainer_model(arch: str):
    """The ultralytics YOLO wrapper that drives training, built from ``arch`` (a yaml name; nothing downloaded)."""
    from spine.offline import configure

    configure()
    from ultralytics import YOLO

    return YOLO(arch, task="detect")


@torch.no_grad()
def raw_outputs(network, batch: torch.Tensor) -> torch.Tensor:
    """(B, 4 + nc, anchors): boxes as (cx, cy, w, h) in input px, then per-class sigmoid scores."""
    out = network(batch)
    return out[0] if isinstance(out, (list, tuple)) else out

"""Untrained model sets for tests that exercise plumbing (batch behaviour, file handling), not accuracy. They are
the shipped variants (the stage configs' defaults) with small inputs."""

from __future__ import annotations

from pathlib import Path

import yaml

from spine import config as configlib
from spine.modelfolder import save_model_folder


def random_model_set(folder: Path) -> Path:
    """A complete model set with randomly initialised networks (small inputs), written in seconds."""
    from detector.model import build_network
    from detector.training.config import DetectorConfig
    from keypoints.model import build_model as build_keypoints
    from keypoints.training.config import KeypointsConfig
    from pipeline.modelset import InferenceOptions
    from segmenter.model import build_model as build_segmenter
    from segmenter.training.config import SegmenterConfig

    det_cfg = configlib.build(DetectorConfig, {"model": {"imgsz": 256}})
    net = build_network("yolo11n.yaml", nc=1)
    save_model_folder(folder / "detector", net.state_dict(), det_cfg, {
        "stage": "detector", "classes": ["vertebra"], "input": {"imgsz": 256, "channels": 1}})
    (folder / "detector" / "model.yaml").write_text(yaml.safe_dump(dict(net.yaml)))
    seg_cfg = configlib.build(
        SegmenterConfig, {"crop": {"size": 64}, "model": {"pretrained": "none", "decoder_channels": [32, 16, 16, 8, 8]}}
    )
    save_model_folder(
        folder / "segmenter",
        build_segmenter(seg_cfg.model).state_dict(),
        seg_cfg,
        {"stage": "segmenter", "mode": "crop", "threshold": 0.5},
    )
    kp_cfg = configlib.build(KeypointsConfig, {"crop": {"size": 64}, "model": {"pretrained": "none"}})
    save_model_folder(folder / "keypoints", build_keypoints(kp_cfg.model).state_dict(), kp_cfg,
                      {"stage": "keypoints", "head": "heatmap"})
    configlib.dump(InferenceOptions(), folder / "pipeline.yaml")
    (folder / "meta.json").write_text('{"stage": "pipeline", "format": "spine-model-set/1"}')
    return folder

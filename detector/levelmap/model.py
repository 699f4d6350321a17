"""The level map network: an smp U-Net over the frame, one output channel per :data:`MAP_CLASSES` (raw logits)."""

from __future__ import annotations

import segmentation_models_pytorch as smp
import torch

from detector.levelmap.config import ModelConfig
from detector.levelmap.frame import MAP_CLASSES


def build_model(cfg: ModelConfig) -> torch.nn.Module:
    """The network with random weights (training starts it from ImageNet: :func:`spine.research.pretrained.imagenet_start`)."""
    return smp.Unet(encoder_name=cfg.encoder, encoder_weights=None, in_channels=1, classes=len(MAP_CLASSES),
                    decoder_channels=tuple(cfg.decoder_channels))


def model_input(frames: torch.Tensor) -> torch.Tensor:
    """Frames (B, 1, H, W) in [0, 1] -> [-1, 1]."""
    return frames * 2 - 1

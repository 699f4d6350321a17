"""The corner network returning raw outputs: four heatmaps from a U-Net (decode with :class:`keypoints.codec.HeatmapCodec`)."""

from __future__ import annotations

import torch
from torch import nn

from keypoints.config import ModelConfig


class CornerHeatmaps(nn.Module):
    """forward(x (B, C, S, S) normalised) -> (B, 4, S/stride, S/stride) raw heatmap logits (decode with HeatmapCodec).

    At ``heatmap_stride`` 2 the decoder stops one block early (at half the crop's side, 16 channels as the last
    block gives): the layers it keeps are the stride-1 network's, so a stride-1 head's weights start it."""

    def __init__(self, cfg: ModelConfig, in_channels: int):
        super().__init__()
        import segmentation_models_pytorch as smp

        self.net = smp.Unet(encoder_name=cfg.encoder, encoder_weights=None, in_channels=in_channels, classes=4,
                            decoder_channels=(128, 64, 32, 16, 16))
        if cfg.heatmap_stride == 2:
            self.net.decoder.blocks = self.net.decoder.blocks[:-1]

    @property
    def encoder(self) -> nn.Module:
        return self.net.encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def build_model(cfg: ModelConfig) -> nn.Module:
    """The network with random weights (training starts it from ImageNet: :func:`spine.research.pretrained.imagenet_start`)."""
    return CornerHeatmaps(cfg, in_channels=1)


def model_input(images: torch.Tensor) -> torch.Tensor:
    """Images (B, 1, S, S) in [0, 1] -> [-1, 1]."""
    return images * 2 - 1

"""Corner networks returning raw outputs: a regression head on a pooled encoder, or heatmaps from a U-Net."""

from __future__ import annotations

import torch
from torch import nn

from keypoints.config import ModelConfig


def _load_pretrained(encoder: nn.Module, cfg: ModelConfig) -> None:
    if cfg.pretrained == "efficientnet_lite0":
        from pipeline.lib.pretrained import load_imagenet_lite0

        load_imagenet_lite0(encoder)


class CornerRegressor(nn.Module):
    """forward(x (B, C, S, S) normalised) -> (B, 8) raw corner regression (decode with RegressionCodec)."""

    def __init__(self, cfg: ModelConfig, in_channels: int):
        super().__init__()
        from segmentation_models_pytorch.encoders import get_encoder

        self.encoder = get_encoder(cfg.encoder, in_channels=in_channels, depth=5, weights=None)
        channels = self.encoder.out_channels[-1]
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(channels, 256),
                                  nn.ReLU(inplace=True), nn.Linear(256, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x)[-1])


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


def build_model(cfg: ModelConfig, pretrained: bool = True) -> nn.Module:
    in_channels = 2 if cfg.mask_channel else 1
    model = CornerRegressor(cfg, in_channels) if cfg.head == "regression" else CornerHeatmaps(cfg, in_channels)
    if pretrained:
        _load_pretrained(model.encoder, cfg)
    return model


def model_input(images: torch.Tensor, masks: torch.Tensor | None) -> torch.Tensor:
    """Images (B, 1, S, S) in [0, 1] -> [-1, 1]; with masks (B, 1, S, S) in {0, 1}, a second channel in [-1, 1]."""
    x = images * 2 - 1
    return x if masks is None else torch.cat([x, masks * 2 - 1], dim=1)

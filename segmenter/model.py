"""UNet++ (segmentation-models-pytorch) with deep supervision; returns raw logits.

smp has no deep-supervision flag: forward hooks on the decoder blocks that
are the paper's top-row nodes X01, X02, X03 (smp names them x_3_3, x_2_3,
x_1_3: all at stride 2) feed 1x1 heads whose logits are upsampled to the
input size. The final output (X04 after smp's last upsampling block) is the
model's prediction; the others only add loss terms during training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from segmenter.config import ModelConfig

TOP_ROW = ("x_3_3", "x_2_3", "x_1_3")  # paper nodes X01, X02, X03


class DeepSupervisedUnetPlusPlus(nn.Module):
    """forward(x (B, C, S, S) normalised) -> {"logits": (B, 1, S, S), "aux": [(B, 1, S, S) x 3]}."""

    def __init__(self, cfg: ModelConfig, in_channels: int = 1):
        super().__init__()
        import segmentation_models_pytorch as smp

        self.net = smp.UnetPlusPlus(encoder_name=cfg.encoder, encoder_weights=None, in_channels=in_channels, classes=1,
                                    decoder_channels=tuple(cfg.decoder_channels))
        self.deep_supervision = cfg.deep_supervision
        blocks = self.net.decoder.blocks
        self.aux_heads = nn.ModuleList(nn.Conv2d(blocks[name].conv2[0].out_channels, 1, kernel_size=1) for name in TOP_ROW) \
            if cfg.deep_supervision else nn.ModuleList()
        self._captured: dict[str, torch.Tensor] = {}
        if cfg.deep_supervision:
            for name in TOP_ROW:
                self.net.decoder.blocks[name].register_forward_hook(self._capture(name))

    @property
    def encoder(self) -> nn.Module:
        return self.net.encoder

    def _capture(self, name: str):
        def hook(_module, _inputs, output):
            self._captured[name] = output
        return hook

    def forward(self, x: torch.Tensor) -> dict:
        self._captured.clear()
        logits = self.net(x)
        aux = [F.interpolate(head(self._captured[name]), size=x.shape[-2:], mode="bilinear", align_corners=False)
               for head, name in zip(self.aux_heads, TOP_ROW)]
        return {"logits": logits, "aux": aux}


def normalise(images: torch.Tensor) -> torch.Tensor:
    """uint8-range or [0, 1] grey -> [-1, 1] (the EfficientNet-Lite input range; used for every encoder)."""
    if images.dtype == torch.uint8:
        images = images.float() / 255.0
    return images * 2.0 - 1.0


def build_model(cfg: ModelConfig, in_channels: int = 1) -> DeepSupervisedUnetPlusPlus:
    """The network with random weights (training starts it from ImageNet: :func:`spine.research.pretrained.imagenet_start`)."""
    return DeepSupervisedUnetPlusPlus(cfg, in_channels)

"""The level network: a CNN per context crop, geometric features, a sequence layer along the chain; raw logits out.

forward(crops (B, n, 1, H, W) in [-1, 1], features (B, n, F), valid (B, n) bool) -> (B, n, len(CLASSES)) logits.
Decoding (temperature, lattice) lives in :mod:`detector.levels.decode`.
"""

from __future__ import annotations

import torch
from torch import nn

from detector.levels.chain import FEATURES
from detector.levels.config import ModelConfig
from detector.levels.decode import CLASSES

AGE_SEX = [FEATURES.index(name) for name in ("age_sex_known", "age", "female")]


class LevelNet(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        from segmentation_models_pytorch.encoders import get_encoder

        self.cfg = cfg
        self.encoder = get_encoder(cfg.encoder, in_channels=1, depth=5, weights=None)
        self.embed = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(cfg.dropout),
                                   nn.Linear(self.encoder.out_channels[-1], cfg.embed), nn.ReLU(inplace=True))
        width = cfg.embed + (len(FEATURES) if cfg.features else 0)
        if cfg.sequence == "gru":
            self.sequence = nn.GRU(width, cfg.hidden, num_layers=cfg.layers, batch_first=True, bidirectional=True,
                                   dropout=cfg.dropout if cfg.layers > 1 else 0.0)
            out = 2 * cfg.hidden
        else:
            self.sequence = nn.Sequential(nn.Linear(width, 2 * cfg.hidden), nn.ReLU(inplace=True), nn.Dropout(cfg.dropout))
            out = 2 * cfg.hidden
        self.head = nn.Linear(out, len(CLASSES))

    def embed_crops(self, crops: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) context crops -> (N, embed): the per-member CNN (what runs on ONNX Runtime at inference)."""
        return self.embed(self.encoder(crops)[-1])

    def member_inputs(self, embedded: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        """(B, n, width): the crop embeddings, with the geometric features when configured."""
        if not self.cfg.features:
            return embedded
        if not self.cfg.age_sex:
            features = features.clone()
            features[..., AGE_SEX] = 0.0
        return torch.cat([embedded, features], dim=-1)

    def forward(self, crops: torch.Tensor, features: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        b, n = crops.shape[:2]
        return self.from_embeddings(self.embed_crops(crops.flatten(0, 1)).unflatten(0, (b, n)), features, valid)

    def from_embeddings(self, embedded: torch.Tensor, features: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, n, embed) crop embeddings, features, valid -> (B, n, classes) logits: the sequence layer and head."""
        x = self.member_inputs(embedded, features)
        if isinstance(self.sequence, nn.GRU):
            lengths = valid.sum(dim=1).clamp(min=1).cpu()
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, _ = self.sequence(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        else:
            x = self.sequence(x)
        return self.head(x)


def build_model(cfg: ModelConfig) -> LevelNet:
    """The network with random weights (training starts it from ImageNet: :func:`spine.research.pretrained.imagenet_start`)."""
    return LevelNet(cfg)


def model_input(crops: torch.Tensor) -> torch.Tensor:
    """uint8-range crops scaled to [0, 1] -> [-1, 1]."""
    return crops * 2 - 1


class CropEmbedder(nn.Module):
    """The level network's per-member CNN alone, as a module of its own (what :mod:`spine.onnxrun` exports)."""

    def __init__(self, network: LevelNet):
        super().__init__()
        self.network = network

    def forward(self, crops: torch.Tensor) -> torch.Tensor:
        return self.network.embed_crops(crops)

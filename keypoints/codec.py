"""Corner target representations, kept out of the network: encode corners for training, decode raw outputs.

Corners are (..., 4, 2) crop px in the declared order (SL, SR, IL, IR).
"""

from __future__ import annotations

import torch


class HeatmapCodec:
    """Corners <-> 4 Gaussian heatmaps (S/stride x S/stride); decoding is the soft-argmax (the heatmap's centre of mass).

    A network's raw maps are first turned into weights with a spatial softmax (``beta`` sharpens it). With
    ``stride`` 2 each map cell covers 2 x 2 crop pixels and stands at their centre (cell i at crop px 2 i + 0.5), so
    corners stay in crop px of the S x S crop and a mirrored map mirrors them about (S - 1) / 2 as at stride 1.
    """

    def __init__(self, size: int, sigma: float = 2.0, beta: float = 1.0, stride: int = 1):
        if size % stride:
            raise ValueError(f"crop side {size} is not a multiple of the heatmap stride {stride}")
        self.size, self.sigma, self.beta, self.stride = size, sigma, beta, stride
        self.grid = torch.arange(size // stride, dtype=torch.float32) * stride + (stride - 1) / 2
        self.ys, self.xs = torch.meshgrid(self.grid, self.grid, indexing="ij")

    def encode(self, corners: torch.Tensor) -> torch.Tensor:
        """(..., 4, 2) crop px -> (..., 4, S/stride, S/stride) Gaussian heatmaps (sigma in crop px), peak 1."""
        x = corners[..., 0, None, None]
        y = corners[..., 1, None, None]
        return torch.exp(-((self.xs.to(corners) - x) ** 2 + (self.ys.to(corners) - y) ** 2) / (2 * self.sigma**2))

    def expectation(self, weights: torch.Tensor) -> torch.Tensor:
        """Centre of mass of non-negative maps (..., 4, S, S) -> (..., 4, 2) crop px, from their column and row sums."""
        columns, rows, grid = weights.sum(dim=-2), weights.sum(dim=-1), self.grid.to(weights)
        total = columns.sum(dim=-1).clamp(min=1e-12)
        return torch.stack([(columns * grid).sum(dim=-1) / total, (rows * grid).sum(dim=-1) / total], dim=-1)

    def decode(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw network maps (..., 4, S/stride, S/stride) -> (..., 4, 2) crop px via a spatial softmax and the soft-argmax.

        The softmax's normaliser cancels in the centre of mass, so only exp(beta * (raw - max)) is formed (the same
        result as softmax then expectation, less work)."""
        logits = self.beta * raw
        return self.expectation(torch.exp(logits - logits.flatten(-2).amax(dim=-1)[..., None, None]))


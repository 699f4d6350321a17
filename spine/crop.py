"""The one reversible mapping between image pixels and crop pixels.

Convention: pixel centres sit at integer coordinates in both frames, (x, y),
x right, y down. A crop is an axis-aligned window of the image (it may reach
past the image border; the outside is padded) resampled to a fixed size.
Every stage that crops uses :class:`Crop`; nothing else adds offsets by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from spine.geometry import Box


@dataclass(frozen=True)
class Crop:
    """window: the region of the image, image px; size: (width, height) of the crop, crop px."""

    window: Box
    size: tuple[int, int]

    def __post_init__(self) -> None:
        if self.window.width <= 0 or self.window.height <= 0:
            raise ValueError(f"crop window must have positive size, got {self.window.as_list()}")
        if min(self.size) < 1:
            raise ValueError(f"crop size must be >= 1 px, got {self.size}")

    @classmethod
    def around(cls, box: Box, margin: float, size: int | tuple[int, int], square: bool = True) -> "Crop":
        """Window centred on ``box``, grown by ``margin`` x its size on every side.

        square=True makes the window square (side = the longer box side grown by
        the margin), so the crop keeps the image's aspect ratio.
        """
        out = (size, size) if isinstance(size, int) else tuple(size)
        cx, cy = box.center
        w, h = box.width * (1 + 2 * margin), box.height * (1 + 2 * margin)
        if square:
            w = h = max(w, h, 1.0)
        return cls(Box.from_cxcywh(cx, cy, max(w, 1.0), max(h, 1.0)), (int(out[0]), int(out[1])))

    @property
    def scale(self) -> tuple[float, float]:
        """Crop px per image px, (sx, sy)."""
        return self.size[0] / self.window.width, self.size[1] / self.window.height

    def matrix(self) -> np.ndarray:
        """2x3 affine, image px -> crop px."""
        sx, sy = self.scale
        return np.array([[sx, 0.0, -self.window.x1 * sx], [0.0, sy, -self.window.y1 * sy]])

    def to_crop(self, points: np.ndarray) -> np.ndarray:
        """Image px (..., 2) -> crop px (..., 2)."""
        pts = np.asarray(points, dtype=float)
        return (pts - (self.window.x1, self.window.y1)) * self.scale

    def to_image(self, points: np.ndarray) -> np.ndarray:
        """Crop px (..., 2) -> image px (..., 2)."""
        pts = np.asarray(points, dtype=float)
        return pts / self.scale + (self.window.x1, self.window.y1)

    def box_to_crop(self, box: Box) -> Box:
        return Box.from_points(self.to_crop(np.array([[box.x1, box.y1], [box.x2, box.y2]])))

    def box_to_image(self, box: Box) -> Box:
        return Box.from_points(self.to_image(np.array([[box.x1, box.y1], [box.x2, box.y2]])))

    def extract(self, image: np.ndarray, pad_value: float = 0.0, nearest: bool = False) -> np.ndarray:
        """The crop of ``image`` (H, W[, C]) as an array (size[1], size[0][, C]); outside is ``pad_value``."""
        flags = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
        return cv2.warpAffine(
            image, self.matrix(), self.size, flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=pad_value
        )

    def paste(self, crop_array: np.ndarray, image_shape: tuple[int, int], nearest: bool = False) -> tuple[np.ndarray, tuple[int, int]]:
        """Map a crop-frame array back to the image.

        Returns (patch, (x0, y0)): the array resampled into the part of the image
        the window covers, clipped to the image, and the patch's top-left corner
        in image px. Pixels of the image outside the window are not touched.
        """
        height, width = image_shape[:2]
        x0 = int(np.clip(np.floor(self.window.x1), 0, width))
        y0 = int(np.clip(np.floor(self.window.y1), 0, height))
        x1 = int(np.clip(np.ceil(self.window.x2) + 1, 0, width))
        y1 = int(np.clip(np.ceil(self.window.y2) + 1, 0, height))
        if x1 <= x0 or y1 <= y0:
            return np.zeros((0, 0), dtype=crop_array.dtype), (x0, y0)
        shifted = self.matrix() + np.array([[0, 0, x0 * self.scale[0]], [0, 0, y0 * self.scale[1]]])
        flags = (cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR) | cv2.WARP_INVERSE_MAP
        patch = cv2.warpAffine(crop_array, shifted, (x1 - x0, y1 - y0), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        return patch, (x0, y0)

    def paste_full(self, crop_array: np.ndarray, image_shape: tuple[int, int], nearest: bool = False) -> np.ndarray:
        """Like :meth:`paste` but into a zero array of the whole image's shape (for tests and small images)."""
        full = np.zeros(image_shape[:2] + crop_array.shape[2:], dtype=crop_array.dtype)
        patch, (x0, y0) = self.paste(crop_array, image_shape, nearest=nearest)
        full[y0 : y0 + patch.shape[0], x0 : x0 + patch.shape[1]] = patch
        return full

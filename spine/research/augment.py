"""Training augmentation shared by the crop stages: intensity, small affine, blur, noise, horizontal flip.

Image, masks and corners move together (albumentations). A horizontal flip
mirrors the crop and then re-orders the corners (left <-> right) so they stay
in the declared order; albumentations does not know corner semantics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import FLIP_CORNERS


@dataclass(frozen=True)
class AugmentConfig:
    enabled: bool = True
    hflip: float = 0.5
    affine: float = 0.7
    shift: float = 0.06
    scale: float = 0.12
    rotate: float = 10.0
    brightness_contrast: float = 0.5
    gamma: float = 0.3
    blur: float = 0.2
    noise: float = 0.3
    clahe: float = 0.2


def hflip(image: np.ndarray, masks: list[np.ndarray], corners: np.ndarray) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Mirror a crop (S, S) with its masks and corners (4, 2) crop px; corners re-ordered to stay SL, SR, IL, IR."""
    width = image.shape[1]
    flipped = corners.copy()
    flipped[:, 0] = width - 1 - flipped[:, 0]
    return image[:, ::-1].copy(), [m[:, ::-1].copy() for m in masks], flipped[list(FLIP_CORNERS)]


class Augmenter:
    """Callable (image uint8 (S, S), masks [uint8 (S, S)], corners (4, 2)) -> the same, augmented."""

    def __init__(self, cfg: AugmentConfig, seed: int | None = None):
        from spine.offline import configure

        configure()
        import albumentations as A

        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.transform = A.Compose(
            [
                A.Affine(translate_percent=(-cfg.shift, cfg.shift), scale=(1 - cfg.scale, 1 + cfg.scale),
                         rotate=(-cfg.rotate, cfg.rotate), border_mode=0, fill=0, fill_mask=0, p=cfg.affine),
                A.CLAHE(clip_limit=2.0, p=cfg.clahe),
                A.RandomBrightnessContrast(0.2, 0.25, p=cfg.brightness_contrast),
                A.RandomGamma((70, 150), p=cfg.gamma),
                A.GaussianBlur(blur_limit=(3, 5), p=cfg.blur),
                A.GaussNoise(std_range=(0.02, 0.08), p=cfg.noise),
            ],
            keypoint_params=A.KeypointParams(format="xy", remove_invisible=False),
            seed=seed,
        )

    def __call__(self, image: np.ndarray, masks: list[np.ndarray], corners: np.ndarray):
        if not self.cfg.enabled:
            return image, masks, corners
        if self.rng.random() < self.cfg.hflip:
            image, masks, corners = hflip(image, masks, corners)
        out = self.transform(image=image, masks=masks, keypoints=corners.astype(np.float32))
        return out["image"], list(out["masks"]), np.asarray(out["keypoints"], np.float32).reshape(4, 2)

"""Train the framer: the keypoint head of :class:`keypoints.config.FramerConfig` (box-robust), by the keypoint stage's
own training. Its model folder is a keypoints model folder; a model set holds it as ``framer/``.

    python -m keypoints.framer [--config configs/framer.yaml] [--set key=value ...] [--override FILE]
"""

from __future__ import annotations

import sys

from keypoints.config import FramerConfig
from keypoints.train import train
from pipeline.lib.training import stage_main

__all__ = ["train", "main"]


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, "keypoints", "Train the framer (a box-robust keypoint head that re-draws the found boxes).",
                      FramerConfig, train, "configs/framer.yaml", "keypoints.framer")


if __name__ == "__main__":
    sys.exit(main())

"""Atomic file writes: a crash never leaves a half-written output behind. Outputs get the permissions of any new
file (0666 less the process's umask), not the private 0600 of a temporary file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, payload: Any) -> Path:
    return atomic_write_text(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def atomic_write_png(path: str | Path, image) -> Path:
    """Write a uint8/uint16 array (H, W) or (H, W, 3 RGB) as PNG."""
    import cv2
    import numpy as np

    array = np.asarray(image)
    if array.ndim == 3:
        array = array[..., ::-1]  # RGB -> BGR for cv2
    ok, buf = cv2.imencode(".png", array)
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    return atomic_write_bytes(path, buf.tobytes())

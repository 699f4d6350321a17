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


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (hex): what identifies a film's content, whatever its name."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FolderLocked(RuntimeError):
    """Another process holds the folder's lock."""


class FolderLock:
    """An exclusive advisory lock on ``folder/name`` (``fcntl.flock``): held while open, released by the kernel when
    the process ends however it ends, so a crash never leaves a stale lock behind."""

    def __init__(self, folder: str | Path, name: str, what: str):
        self.path, self.what, self._fd = Path(folder) / name, what, None

    def __enter__(self) -> "FolderLock":
        import fcntl

        fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise FolderLocked(f"{self.path.parent}: {self.what} is already using this folder; stop it or choose another") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class uninterrupted:
    """``with uninterrupted(): ...`` holds Ctrl-C (SIGINT) back until the block ends, so outputs that belong together
    (a result and its summary row) are written together or not at all; the interrupt is raised after the block.
    Outside the main thread it does nothing (signals are delivered to the main thread only)."""

    def __enter__(self) -> "uninterrupted":
        import signal
        import threading

        self._caught, self._previous = [], None
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, lambda signum, frame: self._caught.append(signum))
        return self

    def __exit__(self, kind, *rest) -> None:
        import signal

        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
        if self._caught and kind is None:
            raise KeyboardInterrupt

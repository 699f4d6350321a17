"""Keep every library off the network. :func:`configure` runs where programs start (each command's ``main()``,
the test suite) and in the functions that import ultralytics or albumentations; importing a module does nothing.

ultralytics looks up DNS at import unless YOLO_OFFLINE is set and downloads a
font unless one sits in its config folder; albumentations asks PyPI for
updates; matplotlib wants a writable config folder. Existing settings made by
the user win.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def cache_dir() -> Path:
    """Writable folder for library state: $SPINE_CACHE_DIR, else $XDG_CACHE_HOME/spine-measure, else ~/.cache/spine-measure."""
    root = os.environ.get("SPINE_CACHE_DIR")
    if root:
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "spine-measure"


def _writable(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write-probe"
        probe.touch()
        probe.unlink()
        return path
    except OSError:
        import tempfile

        fallback = Path(tempfile.gettempdir()) / "spine-measure" / path.name
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _install_font(yolo_dir: Path) -> None:
    target = yolo_dir / "Ultralytics"
    if (target / "Arial.ttf").exists():
        return
    try:
        import matplotlib

        font = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return
    target.mkdir(parents=True, exist_ok=True)
    for name in ("Arial.ttf", "Arial.Unicode.ttf"):
        shutil.copyfile(font, target / name)


_DONE = False


def configure() -> None:
    """Set the offline switches (idempotent and cheap after the first call; values already in the environment are
    kept)."""
    global _DONE
    if _DONE:
        return
    _DONE = True
    base = cache_dir()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_VERBOSE", "False")
    os.environ.setdefault("YOLO_AUTOINSTALL", "False")
    os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", str(_writable(base / "ultralytics")))
    os.environ.setdefault("MPLCONFIGDIR", str(_writable(base / "matplotlib")))
    os.environ.setdefault("MPLBACKEND", "Agg")
    _install_font(Path(os.environ["YOLO_CONFIG_DIR"]))

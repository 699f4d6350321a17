"""Where the project's own files are: the repository (or installed package) root, the configs and the shipped
model set. A source checkout uses its own folders; an installed package (``pip install .``) uses the copies
installed with it (``spine/assets``)."""

from __future__ import annotations

from pathlib import Path

_CHECKOUT = Path(__file__).resolve().parents[1]
_ASSETS = Path(__file__).resolve().parent / "assets"  # an installed package: configs/ and models/ copied here


def _root() -> Path:
    if (_CHECKOUT / "configs").is_dir() and (_CHECKOUT / "pyproject.toml").exists():
        return _CHECKOUT
    return _ASSETS if (_ASSETS / "configs").is_dir() else _CHECKOUT


REPO_ROOT = _root()  # relative paths in configs (configs/..., models/..., cache/...) resolve against it
CONFIGS = REPO_ROOT / "configs"
DEFAULT_MODELS = REPO_ROOT / "models" / "default"

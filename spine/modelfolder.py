"""Self-describing model folders: weights beside the resolved config and a metadata file.

    <folder>/weights.safetensors   state dict (half precision by default), loaded without pickle
    <folder>/config.yaml           the resolved stage config that trained it
    <folder>/meta.json             input contract, levels, corner order, training data, validation figures
    <folder>/int8.onnx             optional: an 8-bit twin of the network for the CPU (spine.int8)

Inference needs nothing else.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from spine.config import dump
from spine.files import atomic_write_json
from spine.geometry import CORNERS

WEIGHTS, CONFIG, META = "weights.safetensors", "config.yaml", "meta.json"


def code_version() -> str:
    """The git commit of the code (with '+dirty' when the tree has changes), or 'unknown'."""
    from spine.paths import REPO_ROOT as root

    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (sha + ("+dirty" if dirty else "")) if sha else "unknown"


def save_model_folder(folder: str | Path, state_dict: dict, config: Any, meta: dict, half: bool = True) -> Path:
    """Write weights (float tensors halved when ``half``), the resolved config and meta.json; returns the folder."""
    from safetensors.torch import save_file


    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for key, value in state_dict.items():
        value = value.detach().cpu().contiguous()
        tensors[key] = value.half() if half and value.is_floating_point() else value
    tmp = folder / (WEIGHTS + ".tmp")
    save_file(tensors, str(tmp))
    tmp.replace(folder / WEIGHTS)
    dump(config, folder / CONFIG)
    full_meta = {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "code_version": code_version(), **meta}
    atomic_write_json(folder / META, full_meta)
    return folder


def load_state(folder: str | Path) -> dict:
    """The state dict in float32 (no pickle involved)."""
    from safetensors.torch import load_file

    state = load_file(str(Path(folder) / WEIGHTS))
    return {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}


class ModelFolderError(ValueError):
    """A model folder that cannot be used as it is (wrong format, corner order or weights); one line says why."""


def load_weights(network, folder: str | Path) -> None:
    """Load the folder's weights into ``network``, every tensor's name and shape checked (strict); a truncated,
    foreign or swapped weights file is a :class:`ModelFolderError` naming the first mismatch."""
    path = Path(folder) / WEIGHTS
    try:
        state = load_state(folder)
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a damaged file
        raise ModelFolderError(f"{path}: not a readable weights file ({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None
    try:
        network.load_state_dict(state)
    except RuntimeError as exc:
        detail = next((line.strip() for line in str(exc).splitlines()[1:] if line.strip()), str(exc))
        raise ModelFolderError(f"{path}: does not fit the {type(network).__name__} network ({detail[:160]})") from None


def folder_digest(folder: str | Path) -> str:
    """sha256 over every file of a folder (names and bytes, hidden files left out)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and not p.name.startswith(".")):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def read_meta(folder: str | Path) -> dict:
    path = Path(folder) / META
    if not path.exists():
        raise FileNotFoundError(f"{folder}: not a model folder (no {META}); train one or pass --models")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFolderError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise ModelFolderError(f"{path}: must hold a JSON object")
    return meta


def check_meta(meta: dict, folder: str | Path, kind: str) -> None:
    """Refuse a folder whose meta.json declares a format of another version than this code reads, or corners in
    another order than :data:`spine.geometry.CORNERS` (its corners would be read as the wrong ones).
    ``kind``: 'model-set' or the stage ('detector', 'keypoints', ...); a stage folder without ``format`` (written
    before it was recorded) is accepted."""
    expected = f"spine-{kind}/1"
    declared = meta.get("format")
    if declared != expected and (declared is not None or kind == "model-set"):
        raise ModelFolderError(f"{Path(folder) / META}: format {str(declared)[:40]!r}, but this code reads {expected!r}")
    order = meta.get("corner_order")
    if order is not None and list(order) != list(CORNERS):
        raise ModelFolderError(f"{Path(folder) / META}: corner_order {order} differs from this code's {list(CORNERS)}")


def stage_meta(folder: str | Path, stage: str) -> dict:
    """The meta.json of a model folder of ``stage`` ('detector', 'levels', ...), refused (one line) when the folder
    is of another stage or a format this code does not read (:func:`check_meta`)."""
    meta = read_meta(folder)
    if meta.get("stage") != stage:
        raise ModelFolderError(f"{folder}: not a {stage} model folder (stage {str(meta.get('stage'))[:40]!r})")
    check_meta(meta, folder, stage)
    return meta


def update_meta(folder: str | Path, **changes) -> dict:
    """Merge ``changes`` into meta.json (e.g. validation figures measured after training). Per-film rows
    (``per_film``, anywhere in them) stay in evaluation reports: a model folder keeps the summary figures."""
    meta = read_meta(folder)
    meta.update(without_per_film(changes))
    atomic_write_json(Path(folder) / META, meta)
    return meta


def without_per_film(node):
    """``node`` with every ``per_film`` entry of its dicts left out, at any depth."""
    if isinstance(node, dict):
        return {k: without_per_film(v) for k, v in node.items() if k != "per_film"}
    if isinstance(node, list):
        return [without_per_film(v) for v in node]
    return node

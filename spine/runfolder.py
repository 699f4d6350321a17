"""What a batch run finds in its output folder before it writes a film's result, so that nothing a reader wrote is
lost and one output stem never stands for two films, across runs too.

A result already at ``<stem>.json`` is, for the film about to be measured:

- ``reviewed``: a reader corrected or verified it (a vertebra ``edited``, a ``verified`` record, or the review page's
  ``<stem>.auto.json`` beside it): never replaced, unless the run was told to, and then kept beside as
  ``<stem>.json.reviewed-<time>`` (the page's ``.auto.json`` likewise);
- ``other film``: the result of a film with other content at another path: the stem is taken, the film is refused;
- ``done``: the same film content measured by the same model set: skipped, unless the run was told to measure again;
- ``stale``: the same film measured by another model set, or the film's content changed: measured again.
"""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from spine.result import SCHEMA

Found = Literal["new", "reviewed", "other film", "done", "stale"]
AUTO = ".auto.json"  # the automatic result the review page keeps beside a corrected one


def _document(path: Path) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) and document.get("schema") == SCHEMA else None


def reviewed(document: dict, folder: Path, stem: str) -> bool:
    """Whether a reader corrected or verified the result."""
    vertebrae = document.get("vertebrae") if isinstance(document.get("vertebrae"), list) else []
    return bool(document.get("verified")) or (folder / f"{stem}{AUTO}").exists() or \
        any(isinstance(v, dict) and v.get("edited") for v in vertebrae)


def found(folder: Path, stem: str, sha256: str, path: str, model_digest: str) -> tuple[Found, dict | None]:
    """What ``folder/<stem>.json`` is for the film of content ``sha256`` at ``path`` (see the module's text), and
    the document there."""
    document = _document(folder / f"{stem}.json")
    if document is None:
        return "new", None
    if reviewed(document, folder, stem):
        return "reviewed", document
    image = document.get("image") if isinstance(document.get("image"), dict) else {}
    if image.get("sha256") != sha256:
        return ("stale" if image.get("path") in (path, Path(path).name) else "other film"), document
    digest = (document.get("model") or {}).get("digest") if isinstance(document.get("model"), dict) else None
    return ("done" if digest == model_digest else "stale"), document


def set_aside(folder: Path, stem: str) -> Path:
    """Move a reviewed ``<stem>.json`` (and the page's ``<stem>.auto.json``) aside, to names no run or listing
    reads as a result; returns where the result went."""
    tag = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    kept = folder / f"{stem}.json.reviewed-{tag}"
    (folder / f"{stem}.json").replace(kept)
    auto = folder / f"{stem}{AUTO}"
    if auto.exists():
        auto.replace(folder / f"{stem}{AUTO}.reviewed-{tag}")
    return kept


def results_present(folder: Path) -> dict[str, Path]:
    """Every result in ``folder`` by stem (``<stem>.json`` holding a ``spine-geometry/1`` document)."""
    out = {}
    for path in sorted(folder.glob("*.json")):
        if not path.name.endswith(AUTO) and _document(path) is not None:
            out[path.stem] = path
    return out


def stems_in_summary(folder: Path) -> set[str]:
    path = folder / "summary.csv"
    if not path.exists():
        return set()
    with open(path, newline="", encoding="utf-8", errors="replace") as handle:
        return {row.get("stem") or "" for row in csv.DictReader(handle)}

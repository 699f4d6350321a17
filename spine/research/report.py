"""How an evaluation command hands its figures over: printed as JSON, and written where ``--out`` says."""

from __future__ import annotations

import json
from pathlib import Path

from spine.files import atomic_write_json


def emit(figures: dict, out: str | Path | None = None) -> int:
    """Print ``figures`` as indented JSON and, given ``out``, write them there (atomically); the exit status, 0."""
    print(json.dumps(figures, indent=2))
    if out:
        atomic_write_json(out, figures)
    return 0

"""The canonical annotation form every dataset adapter produces and every stage trains from.

An :class:`Annotation` is one film: where its pixels are, which patient it
belongs to (for patient-level splits), and its ground-truth :class:`Spine`
in original image px. Box-only sets have vertebrae without corners or levels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from spine.geometry import Spine

SOURCES = ("aasce", "roboflow", "seed", "phantom")


@dataclass(frozen=True, eq=False)
class Annotation:
    """image: path to the film; patient: grouping key for splits; width/height: original px.

    boxes_tight: True when boxes hug the vertebral body (from corners or masks), False for
    loose hand-drawn boxes. flags: findings of the label sanity check (empty = clean).
    """

    image: str
    patient: str
    source: str
    spine: Spine
    width: int
    height: int
    boxes_tight: bool = True
    flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")

    @property
    def name(self) -> str:
        return Path(self.image).name

    def with_(self, **changes) -> "Annotation":
        return replace(self, **changes)


_AASCE_SUFFIX = re.compile(r"(?: [A-Z] AP\d*(?: \(\d+\))?)?\.jpg$", re.IGNORECASE)
_CORONAL = re.compile(r"^(sunhl-1th-\d+-\w+-\d+-coronal)\d+$", re.IGNORECASE)
_ROBOFLOW = re.compile(r"^(?P<stem>.+?)_(?:jpe?g|png)\.rf\.[0-9a-f]+\.(?:jpe?g|png)$", re.IGNORECASE)


def aasce_patient(file_name: str) -> str:
    """Patient key of an AASCE film: 'sunhl-1th-02-Jan-2017-162 A AP.jpg' -> 'sunhl-1th-02-Jan-2017-162'.

    The 17 'sunhl-1th-20-Jul-2016-coronalN' films carry no patient number; they are kept together as one group.
    A second film of one view ('... 159 A AP2.jpg') is the same patient's.
    """
    stem = _AASCE_SUFFIX.sub("", Path(file_name).name)
    coronal = _CORONAL.match(stem)
    return coronal.group(1) if coronal else stem


def roboflow_original(file_name: str) -> str:
    """The original name in a Roboflow export name: 'X-A-AP_jpg.rf.<hash>.jpg' -> 'X-A-AP' (spaces became '-')."""
    match = _ROBOFLOW.match(Path(file_name).name)
    return match.group("stem") if match else Path(file_name).stem


def roboflow_patient(file_name: str) -> str:
    """Patient key of a Roboflow image, aligned with :func:`aasce_patient` for the AASCE films it contains.

    'sunhl-...-162-A-AP' -> 'sunhl-...-162'; challenge film 'K' -> 'challenge-K'; 'N126--Rt-...' -> 'N126';
    others (unknown origin) are their own patient.
    """
    original = roboflow_original(file_name)
    if original.lower().startswith("sunhl"):
        stem = re.sub(r"-[A-Z]-AP\d*(?:-\(\d+\))?$", "", original, flags=re.IGNORECASE)
        coronal = _CORONAL.match(stem)
        return coronal.group(1) if coronal else stem
    if original.isdigit():
        return f"challenge-{int(original)}"
    numbered = re.match(r"^(N\d+)-", original)
    return numbered.group(1) if numbered else original

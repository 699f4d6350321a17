"""What every DICOM object this program writes shares: the algorithm's name and version, series numbers, UIDs."""

from __future__ import annotations

from pydicom.dataset import Dataset

ALGORITHM = "spine-measure"
SEGMENTATION, GSPS = "1.2.840.10008.5.1.4.1.1.66.4", "1.2.840.10008.5.1.4.1.1.11.1"
SERIES_NUMBERS = {"sr": 9101, "gsps": 9102, "seg": 9103}  # a verified result's objects: 10 more
DESCRIPTIONS = {"sr": "spine measurements", "gsps": "spine overlay", "seg": "vertebrae"}


def version() -> str:
    """The software version written into every object: the package version and the code's git commit."""
    from spine import __version__
    from spine.modelfolder import code_version

    return f"{__version__} ({code_version()})"


def new_uids(source: Dataset, kind: str, deterministic: bool) -> dict:
    """Series and SOP Instance UIDs of a new object: random, or (``deterministic``) derived from the source film's
    SOP Instance UID and the kind of object, so measuring one film again makes the same objects, not copies."""
    from pydicom.uid import generate_uid

    if not deterministic:
        return {"series_instance_uid": generate_uid(), "sop_instance_uid": generate_uid()}
    seed = [str(source.SOPInstanceUID), ALGORITHM, kind]
    return {"series_instance_uid": generate_uid(entropy_srcs=seed + ["series"]),
            "sop_instance_uid": generate_uid(entropy_srcs=seed + ["instance"])}


def series_of(result, kind: str, source: Dataset, deterministic: bool) -> dict:
    """Series number and description and the UIDs of a new object of ``kind`` ('sr', 'gsps', 'seg') for ``result``:
    the program's preliminary series, or, for a result a reader verified, a series of its own (number + 10,
    'verified'); deterministic UIDs also depend on the verification's time, so each verification is new."""
    checked = result.verified is not None
    tag = f"{kind}-verified-{result.verified.at}" if checked else kind
    return {"series_number": SERIES_NUMBERS[kind] + (10 if checked else 0),
            "series_description": f"{DESCRIPTIONS[kind]}{', verified' if checked else ''} ({ALGORITHM})",
            **new_uids(source, tag, deterministic)}

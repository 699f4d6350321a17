"""Results back into the hospital as DICOM, beside the source film, in its study (highdicom):

- a Comprehensive SR with the TID 1500 measurement report (:mod:`spine.dicomout.sr`),
- a Grayscale Softcopy Presentation State drawing the overlay on the original pixels (:mod:`.gsps`),
- a Segmentation, one binary segment per vertebra, the amodal outline (:mod:`.seg`).

Each object goes into a new series of the source's study with new UIDs; patient and study attributes are copied
from the source; the manufacturer and software version name this program. :func:`write_dicom_outputs` writes all
three for one result. The program's own result is PRELIMINARY and UNVERIFIED; a result a reader verified goes out in
series of its own, its SR FINAL, COMPLETE and VERIFIED (the reader as Verifying Observer) and pointing at the
preliminary SR it replaces (Predecessor Documents), when that one is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from spine.dicomout.common import ALGORITHM, GSPS, SEGMENTATION, series_of, version
from spine.result import SpineResult


class DicomOutputError(ValueError):
    """The result cannot go back as DICOM (e.g. the film was not a DICOM file)."""


@dataclass(frozen=True)
class Written:
    """Paths of the three objects written for one film."""

    sr: Path
    gsps: Path
    seg: Path


def build_sr(result: SpineResult, source: Dataset, models: str, deterministic: bool = False,
             predecessor: Dataset | None = None):
    import highdicom as hd

    from spine.dicomout.sr import measurement_report

    report = measurement_report(result, source, ALGORITHM, version(), models)
    checked = result.verified is not None
    sr = hd.sr.ComprehensiveSR(
        evidence=[source], content=report, manufacturer=ALGORITHM, is_complete=True, instance_number=1,
        is_final=checked, is_verified=checked,
        verifying_observer_name=result.verified.by if checked else None,
        verifying_organization=str(source.get("InstitutionName", "") or "not recorded") if checked else None,
        previous_versions=[predecessor] if checked and predecessor is not None else None,
        **series_of(result, "sr", source, deterministic))
    if checked:  # when the reader checked it, not when this file was written
        stamp = "".join(c for c in result.verified.at if c.isdigit())[:14]
        sr.VerifyingObserverSequence[0].VerificationDateTime = stamp + "+0000"
    return sr


def read_source(path: str | Path) -> Dataset:
    """The source film's dataset (pixels included: the segmentation and the presentation state need its geometry)."""
    import pydicom

    from spine.radiograph import sniff

    if sniff(path) != "dicom":
        raise DicomOutputError(f"{path}: DICOM output needs a DICOM film (this one is a plain image); measured, no DICOM written")
    return pydicom.dcmread(path)


def write_dicom_outputs(result: SpineResult, source_path: str | Path, out: str | Path, models: str,
                        deterministic: bool = False, predecessor: str | Path | None = None) -> Written:
    """Write the SR, the presentation state and the segmentation of ``result`` (measured on the DICOM film at
    ``source_path``) into ``out`` as <film stem>_sr.dcm, _gsps.dcm, _seg.dcm; a verified result's as
    <film stem>_verified-<time>_sr.dcm, ... (never over an earlier verification), its SR pointing at the
    ``predecessor`` SR file when given. deterministic: UIDs derived from the film's (:func:`new_uids`)."""
    from spine.dicomout.gsps import build_gsps
    from spine.dicomout.seg import build_seg
    from spine.files import atomic_write_bytes

    source = read_source(source_path)
    previous = read_predecessor(predecessor, source) if predecessor is not None else None
    out = Path(out)
    stem = Path(source_path).stem
    if result.verified is not None:
        stem += "_verified-" + "".join(c for c in result.verified.at if c.isalnum())
    written = {}
    for kind, build in (
        ("sr", lambda: build_sr(result, source, models, deterministic, previous)),
        ("gsps", lambda: build_gsps(result, source, deterministic)),
        ("seg", lambda: build_seg(result, source, deterministic)),
    ):
        dataset = declare_local_codes(complete(build(), source))
        path = out / f"{stem}_{kind}.dcm"
        written[kind] = atomic_write_bytes(path, _encoded(dataset))
    return Written(**written)


def read_predecessor(path: str | Path, source: Dataset) -> Dataset:
    """The earlier SR a verified one replaces: an SR of the source film's study, else a DicomOutputError."""
    import pydicom

    try:
        earlier = pydicom.dcmread(path, stop_before_pixels=True)
    except (OSError, pydicom.errors.InvalidDicomError) as exc:
        raise DicomOutputError(f"{path}: not a readable DICOM file ({exc})") from None
    if earlier.get("Modality") != "SR" or earlier.get("StudyInstanceUID") != source.get("StudyInstanceUID"):
        raise DicomOutputError(f"{path}: not an SR of the film's study; the verified SR can only replace one of those")
    return earlier


def complete(dataset: Dataset, source: Dataset) -> Dataset:
    """Conditional attributes highdicom leaves to the caller, taken from the source film: the patient orientation
    of a projection image's segmentation; the presentation state's series laterality (empty: unknown, as dciodvfy
    asks of a presentation state whose source carries none)."""
    if dataset.SOPClassUID == SEGMENTATION and "PatientOrientation" in source:
        dataset.PatientOrientation = source.PatientOrientation
    if dataset.SOPClassUID == GSPS and "Laterality" not in dataset:
        dataset.Laterality = source.get("Laterality", "")
    return dataset


def declare_local_codes(dataset: Dataset) -> Dataset:
    """Add the Coding Scheme Identification of the local scheme the object uses (PS3.3 C.12.1.1.5)."""
    from pydicom.sequence import Sequence

    from spine.dicomout.codes import LOCAL, LOCAL_NAME

    item = Dataset()
    item.CodingSchemeDesignator, item.CodingSchemeName = LOCAL, LOCAL_NAME
    item.CodingSchemeResponsibleOrganization = ALGORITHM
    existing = list(dataset.get("CodingSchemeIdentificationSequence", []))
    dataset.CodingSchemeIdentificationSequence = Sequence(existing + [item])
    return dataset


def _encoded(dataset: Dataset) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()

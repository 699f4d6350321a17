"""Write a radiograph as a DICOM file (DX, 8-16 bits stored), for phantoms, tests and exports."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np

DX_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.1"
_ORIENTATION = {"AP": ["L", "F"], "PA": ["R", "F"], "LAT": ["P", "F"]}  # increasing column, increasing row
_VIEW_POSITION = {"AP": "AP", "PA": "PA", "LAT": "LL"}


def write_dicom(
    pixels: np.ndarray,
    path: str | Path,
    spacing_mm: tuple[float, float] | None = None,
    spacing_tag: str = "PixelSpacing",
    age_years: float | None = None,
    sex: str | None = None,
    view: str | None = None,
    bits_stored: int = 12,
    monochrome1: bool = False,
    window: tuple[float, float] | None = None,
    rescale: tuple[float, float] = (1.0, 0.0),
) -> Path:
    """Write ``pixels`` (H, W) float in [0, 1], bone bright, as an uncompressed little-endian DICOM.

    Stored values span 0 .. 2**bits_stored - 1; MONOCHROME1 stores them inverted
    (bone dark in stored values), as CR systems do. spacing_mm is (row, col).
    window: (center, width) in rescaled units, written as the VOI window.
    rescale: (slope, intercept) written as the modality LUT.
    """
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    path = Path(path)
    values = np.clip(np.asarray(pixels, dtype=float), 0, 1)
    if monochrome1:
        values = 1.0 - values
    top = (1 << bits_stored) - 1
    stored = np.round(values * top).astype(np.uint8 if bits_stored <= 8 else np.uint16)

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DX_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    now = datetime(2026, 1, 1, 12, 0, 0)
    ds.SOPClassUID, ds.SOPInstanceUID = DX_FOR_PRESENTATION, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality, ds.StudyDate, ds.StudyTime = "DX", now.strftime("%Y%m%d"), now.strftime("%H%M%S")
    ds.PatientName, ds.PatientID = "PHANTOM^SYNTHETIC", "PHANTOM"
    if age_years is not None:
        ds.PatientAge = f"{int(age_years):03d}Y"
    if sex is not None:
        ds.PatientSex = sex
    if view is not None:
        ds.ViewPosition = _VIEW_POSITION.get(view, view)
    ds.PatientOrientation = _ORIENTATION.get(view or "AP", ["L", "F"])
    ds.ImageType, ds.PresentationIntentType = ["DERIVED", "PRIMARY"], "FOR PRESENTATION"
    ds.BodyPartExamined, ds.Manufacturer, ds.ConversionType = "SPINE", "spine-measure phantom", "WSD"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName, ds.PatientBirthDate = "1", "", "", ""
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.ContentDate, ds.ContentTime = ds.StudyDate, ds.StudyTime
    ds.BurnedInAnnotation, ds.PixelIntensityRelationship, ds.PixelIntensityRelationshipSign = "NO", "LIN", 1
    ds.DetectorType, ds.ImageLaterality = "SCINTILLATOR", "U"
    if spacing_mm is not None:
        setattr(ds, spacing_tag, [f"{spacing_mm[0]:.6g}", f"{spacing_mm[1]:.6g}"])
        if spacing_tag == "PixelSpacing":  # a DX film carries the detector's spacing too (no magnification here)
            ds.ImagerPixelSpacing = ds.PixelSpacing
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.Rows, ds.Columns = stored.shape
    ds.BitsAllocated = 8 if bits_stored <= 8 else 16
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = bits_stored, bits_stored - 1, 0
    ds.RescaleSlope, ds.RescaleIntercept = f"{rescale[0]:g}", f"{rescale[1]:g}"
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = f"{window[0]:g}", f"{window[1]:g}"
    ds.PixelData = stored.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path

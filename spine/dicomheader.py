"""What a DICOM header says about the film and its patient: pixel spacing, age, sex, and a key that tells whether two
films are one patient's without keeping the Patient ID."""

from __future__ import annotations

import hashlib
import re
from datetime import date


def patient_key(ds) -> str | None:
    """A short hash of the Patient ID (with its issuer), to tell whether two films are one patient's without
    keeping the ID; None without one."""
    pid = str(ds.get("PatientID", "") or "").strip()
    if not pid:
        return None
    issuer = str(ds.get("IssuerOfPatientID", "") or "").strip()
    return hashlib.sha256(f"{issuer}|{pid}".encode()).hexdigest()[:16]


def dicom_spacing(ds) -> tuple[tuple[float, float] | None, str | None]:
    """(row, col) mm per pixel and the tag it came from: PixelSpacing first, else ImagerPixelSpacing (at the detector)."""
    for keyword in ("PixelSpacing", "ImagerPixelSpacing"):
        value = ds.get(keyword)
        if value is not None and len(value) == 2:
            row, col = float(value[0]), float(value[1])
            if row > 0 and col > 0:
                return (row, col), keyword
    return None, None


_AGE_RE = re.compile(r"^\s*(\d{1,3})\s*([DWMY])\s*$", re.IGNORECASE)
_AGE_UNIT = {"D": 1 / 365.25, "W": 7 / 365.25, "M": 1 / 12, "Y": 1.0}


def dicom_age(ds) -> float | None:
    """Age in years from PatientAge ('014Y'), else from PatientBirthDate and StudyDate."""
    match = _AGE_RE.match(str(ds.get("PatientAge", "") or ""))
    if match:
        return float(match.group(1)) * _AGE_UNIT[match.group(2).upper()]
    birth, study = str(ds.get("PatientBirthDate", "") or ""), str(ds.get("StudyDate", "") or "")
    if len(birth) == 8 and len(study) == 8 and birth.isdigit() and study.isdigit():
        b = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
        s = date(int(study[:4]), int(study[4:6]), int(study[6:]))
        return round((s - b).days / 365.25, 2)
    return None


def dicom_sex(ds) -> str | None:
    value = str(ds.get("PatientSex", "") or "").strip().upper()
    return value if value in ("M", "F", "O") else None

"""The measurements of a result as a Comprehensive SR holding a TID 1500 Measurement Report (highdicom).

Content tree (every measurement with its UCUM unit; coordinates as SCOORD on the source image, DICOM pixel
convention: (column, row) with the first pixel's centre at (0.5, 0.5)):

    Imaging Measurement Report (TID 1500), the algorithm and its version as observer device
      Imaging Measurements
        per Cobb curve (TID 1501): Cobb angle (deg) with the two endplate lines (POLYLINE), finding site the spine
                                   region, qualitative evaluations: upper / lower end and apical vertebra (SNOMED CT)
        AASCE protocol: the three angles (deg)                  (frontal films)
        sagittal: lumbar lordosis, thoracic kyphosis, sacral slope, cervical lordosis (deg)   (lateral films)
        per vertebra: heights (mm, or px without a spacing) with the four corners (POLYLINE, closed), wedge and
                      tilt (deg), Genant grade (lateral); finding site the vertebra
        per disc: angle (deg), heights, slip (%), Meyerding grade; finding site the disc
      Comment (TEXT) per warning
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from spine.dicomout import codes as C
from spine.result import SpineResult

SCOORD_OFFSET = 0.5  # our pixel centres sit at integer coordinates; DICOM's at half-integers


def _hd():
    import highdicom as hd

    return hd


def _coordinates(points: np.ndarray, source: Dataset, purpose=None):
    hd = _hd()
    region = hd.sr.SourceImageForRegion(source.SOPClassUID, source.SOPInstanceUID)
    data = np.asarray(points, float) + SCOORD_OFFSET
    kwargs = {"purpose": purpose} if purpose is not None else {}
    return hd.sr.CoordinatesForMeasurement(hd.sr.GraphicTypeValues.POLYLINE, data, region, **kwargs)


def reported(value: float, unit) -> float:
    """A value as the report states it: to 0.1 of its unit (degrees, mm, px, %), what the measures support; grades
    (no units) as they are."""
    return float(value) if unit == C.NO_UNITS else round(float(value), 1)


def _measurement(name, value, unit, algorithm, coordinates=None, site=None):
    hd = _hd()
    return hd.sr.Measurement(name=name, value=reported(value, unit), unit=unit, algorithm_id=algorithm,
                             referenced_coordinates=coordinates, finding_sites=[hd.sr.FindingSite(site)] if site else None)


def _group(label: str, measurements: list, algorithm, site=None, evaluations: Sequence = ()):
    hd = _hd()
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label), algorithm_id=algorithm,
        finding_sites=[hd.sr.FindingSite(site)] if site else None, measurements=measurements,
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(name, value) for name, value in evaluations] or None)


def _curve_groups(result: SpineResult, source: Dataset, algorithm) -> list:
    out, vertebrae = [], result.spine.vertebrae
    for rank, curve in enumerate(result.measurements.get("cobb") or []):
        upper, lower = vertebrae[curve["upper_index"]], vertebrae[curve["lower_index"]]
        lines = [_coordinates(upper.corners[[0, 1]], source), _coordinates(lower.corners[[2, 3]], source)]
        site = C.REGIONS.get(curve.get("region"), C.SPINE)
        evaluations = [(C.UPPER_END, C.vertebra(curve["upper"])), (C.LOWER_END, C.vertebra(curve["lower"]))]
        if curve.get("apex"):
            evaluations.append((C.APEX, C.vertebra(curve["apex"])))
        label = f"Cobb curve {rank + 1}{' (major)' if rank == 0 else ''}: {curve['upper']}-{curve['lower']}"
        out.append(_group(label, [_measurement(C.COBB_ANGLE, curve["angle_deg"], C.DEGREE, algorithm, lines, site)],
                          algorithm, site, evaluations))
    return out


def _spine_groups(result: SpineResult, algorithm) -> list:
    m, out = result.measurements, []
    if m.get("aasce_cobb_deg"):
        out.append(
            _group(
                "AASCE protocol",
                [_measurement(code, a, C.DEGREE, algorithm) for code, a in zip(C.AASCE_ANGLES, m["aasce_cobb_deg"])],
                algorithm,
                C.SPINE,
            )
        )
    sagittal = [
        (C.LUMBAR_LORDOSIS, "lumbar_lordosis_deg"),
        (C.THORACIC_KYPHOSIS, "thoracic_kyphosis_deg"),
        (C.SACRAL_SLOPE, "sacral_slope_deg"),
        (C.CERVICAL_LORDOSIS, "cervical_lordosis_deg"),
    ]
    found = [_measurement(code, m[key], C.DEGREE, algorithm) for code, key in sagittal if m.get(key) is not None]
    if found:
        out.append(_group("Sagittal alignment", found, algorithm, C.SPINE))
    return out


def _vertebra_groups(result: SpineResult, source: Dataset, algorithm, length_unit) -> list:
    out, per = [], result.measurements.get("per_vertebra") or {}
    for v in result.spine.vertebrae:
        values = per.get(v.level) if v.level else None
        if values is None or v.corners is None:
            continue
        outline = _coordinates(np.vstack([v.corners[[0, 1, 3, 2]], v.corners[:1]]), source)
        measurements = []
        for key, code in C.HEIGHTS.items():
            if values.get(key) is not None:
                measurements.append(_measurement(code, values[key], length_unit, algorithm, [outline] if not measurements else None))
        for key, code, unit in (("wedge_deg", C.WEDGE, C.DEGREE), ("tilt_deg", C.TILT, C.DEGREE), ("genant_grade", C.GENANT, C.NO_UNITS)):
            if values.get(key) is not None:
                measurements.append(_measurement(code, values[key], unit, algorithm))
        out.append(_group(f"Vertebra {v.level}", measurements, algorithm, C.vertebra(v.level)))
    return out


def _disc_groups(result: SpineResult, algorithm, length_unit) -> list:
    out = []
    for name, d in (result.measurements.get("per_disc") or {}).items():
        upper, _, lower = name.partition("-")
        measurements = [_measurement(C.DISC_ANGLE, d["angle_deg"], C.DEGREE, algorithm)] if d.get("angle_deg") is not None else []
        measurements += [
            _measurement(code, d[key], length_unit, algorithm) for key, code in C.DISC_HEIGHTS.items() if d.get(key) is not None
        ]
        if d.get("slip_percent") is not None:
            measurements.append(_measurement(C.SLIP, d["slip_percent"], C.PERCENT, algorithm))
        if d.get("meyerding_grade") is not None:
            measurements.append(_measurement(C.MEYERDING, d["meyerding_grade"], C.NO_UNITS, algorithm))
        if measurements:
            out.append(_group(f"Disc {name}", measurements, algorithm, C.disc(upper, lower)))
    return out


def measurement_report(result: SpineResult, source: Dataset, algorithm_name: str, version: str, models: str):
    """The TID 1500 content (a highdicom MeasurementReport) of ``result`` measured on ``source``."""
    hd = _hd()
    algorithm = hd.sr.AlgorithmIdentification(name=algorithm_name, version=version, parameters=[f"model set {models}"])
    device = hd.sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=hd.UID(), name=algorithm_name, manufacturer_name=algorithm_name, model_name=version
        ),
    )
    length = C.MILLIMETRE if result.measurements.get("units") == "mm" else C.PIXEL
    groups = (
        _curve_groups(result, source, algorithm)
        + _spine_groups(result, algorithm)
        + _vertebra_groups(result, source, algorithm, length)
        + _disc_groups(result, algorithm, length)
    )
    context = hd.sr.ObservationContext(observer_device_context=device)
    try:  # the image library describes the film; a film lacking what it needs (orientation, spacing) goes without
        report = hd.sr.MeasurementReport(context, C.PROCEDURE, groups, referenced_images=[source])
    except (AttributeError, ValueError, TypeError):
        report = hd.sr.MeasurementReport(context, C.PROCEDURE, groups)
    root = report[0]
    for warning in result.warnings:
        root.ContentSequence.append(
            hd.sr.TextContentItem(name=codes.DCM.Comment, value=warning[:1024], relationship_type=hd.sr.RelationshipTypeValues.CONTAINS)
        )
    return report

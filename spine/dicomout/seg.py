"""The vertebrae of a result as a DICOM Segmentation: one binary segment per vertebra, its amodal outline (the
parts other bones hide included; the corners' quadrilateral where no outline was found), on the source film."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from spine.dicomout import codes as C
from spine.geometry import IL, IR, SL, SR, Polygon
from spine.result import SpineResult


def masks(result: SpineResult, rows: int, cols: int) -> tuple[np.ndarray, list]:
    """(1, rows, cols, segments) bool pixel array and the vertebrae it holds (outline, else corners)."""
    planes, kept = [], []
    for v in result.spine.vertebrae:
        outline = v.mask or (Polygon(v.corners[[SL, SR, IR, IL]]) if v.corners is not None else None)
        if outline is None:
            continue
        plane = outline.rasterize((rows, cols))
        if plane.any():
            planes.append(plane)
            kept.append(v)
    array = np.stack(planes, axis=-1)[None] if planes else np.zeros((1, rows, cols, 0), bool)
    return array, kept


def build_seg(result: SpineResult, source: Dataset, deterministic: bool = False):
    import highdicom as hd

    from spine.dicomout.common import ALGORITHM, series_of, version

    array, vertebrae = masks(result, int(source.Rows), int(source.Columns))
    if not vertebrae:
        raise ValueError("no vertebra to put in a segmentation")
    algorithm = hd.AlgorithmIdentificationSequence(name=ALGORITHM, version=version(), family=codes.cid7162.ArtificialIntelligence)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=k + 1,
            segment_label=v.level or f"vertebra {k + 1}",
            segmented_property_category=codes.cid7150.AnatomicalStructure,
            segmented_property_type=C.vertebra(v.level) if v.level else codes.SCT.Bone,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC if not v.edited else hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=algorithm,
            tracking_uid=hd.UID(),
            tracking_id=f"vertebra {v.level or k + 1}",
        )
        for k, v in enumerate(vertebrae)
    ]
    return hd.seg.Segmentation(
        source_images=[source],
        pixel_array=array,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        instance_number=1,
        **series_of(result, "seg", source, deterministic),
        manufacturer=ALGORITHM,
        manufacturer_model_name=ALGORITHM,
        software_versions=version(),
        device_serial_number="0",
        content_label="VERTEBRAE",
        content_description="amodal vertebral body outlines",
    )

"""The overlay as a Grayscale Softcopy Presentation State: outlines, corners, level labels and the Cobb curves'
endplate lines with their angles as graphic annotations on the original pixels, in layers a viewer can toggle;
the source's own window is kept."""

from __future__ import annotations

import numpy as np
from pydicom.dataset import Dataset

from spine.geometry import IL, IR, SL, SR
from spine.result import SpineResult

OFFSET = 0.5  # our pixel centres sit at integer coordinates, DICOM's at half-integers


def _pixels(points) -> np.ndarray:
    return np.asarray(points, float) + OFFSET


def _layers():
    import highdicom as hd

    return {name: hd.pr.GraphicLayer(layer_name=name, order=k + 1, description=text) for k, (name, text) in enumerate(
        (("VERTEBRAE", "vertebral body outlines and corners"), ("LEVELS", "level names"), ("COBB", "Cobb curves")))}


def _vertebrae_objects(result: SpineResult):
    import highdicom as hd

    shapes, labels = [], []
    for v in result.spine.vertebrae:
        outline = v.mask.points if v.mask is not None else (v.corners[[SL, SR, IR, IL]] if v.corners is not None else None)
        if outline is not None:
            closed = np.vstack([outline, outline[:1]])
            shapes.append(hd.pr.GraphicObject(hd.pr.GraphicTypeValues.POLYLINE, _pixels(closed), hd.pr.AnnotationUnitsValues.PIXEL))
        if v.corners is not None:  # a small circle at each corner: centre, then a point on the circle
            r = max(1.0, 0.04 * v.box.width)
            shapes += [hd.pr.GraphicObject(hd.pr.GraphicTypeValues.CIRCLE, _pixels([c, c + (r, 0.0)]), hd.pr.AnnotationUnitsValues.PIXEL)
                       for c in v.corners]
        if v.level:
            anchor = (float(v.box.x2 + 0.3 * v.box.width + OFFSET), float(v.box.center[1] + OFFSET))
            labels.append(hd.pr.TextObject(v.level + ("?" if v.inferred else ""), hd.pr.AnnotationUnitsValues.PIXEL,
                                           anchor_point=anchor, anchor_point_visible=False))
    return shapes, labels


def _cobb_objects(result: SpineResult, cols: int):
    import highdicom as hd

    lines, texts, vertebrae = [], [], result.spine.vertebrae
    for curve in result.measurements.get("cobb") or []:
        upper, lower = vertebrae[curve["upper_index"]], vertebrae[curve["lower_index"]]
        for a, b in ((upper.corners[SL], upper.corners[SR]), (lower.corners[IL], lower.corners[IR])):
            d = (b - a) / max(np.linalg.norm(b - a), 1e-9) * 0.6 * upper.box.width
            lines.append(hd.pr.GraphicObject(hd.pr.GraphicTypeValues.POLYLINE, _pixels([a - d, b + d]), hd.pr.AnnotationUnitsValues.PIXEL))
        x = float(max(2.0, min(upper.box.x1, lower.box.x1) - 1.2 * upper.box.width))
        y = float((upper.box.center[1] + lower.box.center[1]) / 2)
        texts.append(hd.pr.TextObject(f"{curve['angle_deg']:.1f} deg {curve['upper']}-{curve['lower']}", hd.pr.AnnotationUnitsValues.PIXEL,
                                      anchor_point=(x, y), anchor_point_visible=False))
    return lines, texts


def build_gsps(result: SpineResult, source: Dataset, deterministic: bool = False):
    import highdicom as hd

    from spine.dicomout.common import ALGORITHM, series_of, version

    layers = _layers()
    shapes, labels = _vertebrae_objects(result)
    lines, texts = _cobb_objects(result, int(source.Columns))
    parts = (("VERTEBRAE", shapes, []), ("LEVELS", [], labels), ("COBB", lines, texts))
    annotations = [hd.pr.GraphicAnnotation([source], layers[name], graphic_objects=graphics or None, text_objects=text or None)
                   for name, graphics, text in parts if graphics or text]
    return hd.pr.GrayscaleSoftcopyPresentationState(
        referenced_images=[source], **series_of(result, "gsps", source, deterministic),
        instance_number=1, manufacturer=ALGORITHM, manufacturer_model_name=ALGORITHM, software_versions=version(),
        device_serial_number="0", content_label="SPINE", content_description="spine-measure overlay",
        graphic_annotations=annotations, graphic_layers=list(layers.values()),
        presentation_lut_transformation=presentation_lut(source))


def presentation_lut(source: Dataset):
    """INVERSE for a MONOCHROME1 film (its low values are white), IDENTITY otherwise: the state shows the film as its
    own photometric interpretation says, not inverted."""
    import highdicom as hd

    inverse = str(source.get("PhotometricInterpretation", "")).strip().upper() == "MONOCHROME1"
    shape = hd.PresentationLUTShapeValues.INVERSE if inverse else hd.PresentationLUTShapeValues.IDENTITY
    return hd.PresentationLUTTransformation(presentation_lut_shape=shape)

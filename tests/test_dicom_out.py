"""Results as DICOM: the SR's measurements equal the result's, every object references the source film, each one
passes dciodvfy (when dicom3tools is here), a plain image gets a clear message, and UIDs can repeat on purpose."""

from __future__ import annotations

import json
import shutil
import subprocess

import numpy as np
import pydicom
import pytest

pytest.importorskip("highdicom")

from spine.phantom import sample_film  # noqa: E402


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """A phantom DICOM, its true geometry measured as a result, and the three objects written for it."""
    from spine.dicomout import write_dicom_outputs
    from spine.remeasure import measure_result
    from spine.result import read_result

    root = tmp_path_factory.mktemp("dicomout")
    out = {}
    for view, seed in (("AP", 3), ("LAT", 4)):
        film = sample_film(root / view, view, seed=seed)
        result = measure_result(read_result(film.with_suffix(".json")))
        out[view] = (film, result, write_dicom_outputs(result, film, root / view / "out", "test models"))
    return out


def test_sr_measurements_equal_the_result_and_point_at_the_film(written):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    film, result, paths = written["AP"]
    source = pydicom.dcmread(film)
    sr = hd.sr.srread(paths.sr)
    assert sr.StudyInstanceUID == source.StudyInstanceUID and sr.PatientID == source.PatientID
    assert sr.SeriesInstanceUID != source.SeriesInstanceUID and sr.Manufacturer == "spine-measure"
    groups = sr.content.get_image_measurement_groups()
    cobb = [g.get_measurements(name=codes.SCT.CobbAngle)[0] for g in groups if g.get_measurements(name=codes.SCT.CobbAngle)]
    assert [float(m.value) for m in cobb] == [round(c["angle_deg"], 1) for c in result.measurements["cobb"]]  # to 0.1 deg
    assert all(m.unit.value == "deg" for m in cobb)
    for m in cobb:
        for coordinates in m.referenced_coordinates:
            assert coordinates.ContentSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    upper = result.spine.vertebrae[result.measurements["cobb"][0]["upper_index"]]
    line = np.asarray(cobb[0].referenced_coordinates[0].GraphicData, float).reshape(-1, 2)
    assert np.allclose(line, upper.corners[[0, 1]] + 0.5, atol=1e-3)
    vertebra = next(g for g in groups if g.tracking_identifier == "Vertebra T5")
    middle = vertebra.get_measurements(name=pydicom.sr.coding.Code("HM", "99SPINE", "Vertebral body middle height"))[0]
    assert float(middle.value) == round(result.measurements["per_vertebra"]["T5"]["height_middle"], 1) and middle.unit.value == "mm"
    comments = [
        item.TextValue for item in sr.ContentSequence if item.ValueType == "TEXT" and item.ConceptNameCodeSequence[0].CodeValue == "121106"
    ]
    assert comments == list(result.warnings)


def test_lateral_sr_holds_the_sagittal_angles_and_slip(written):
    import highdicom as hd
    from pydicom.sr.coding import Code

    _, result, paths = written["LAT"]
    groups = hd.sr.srread(paths.sr).content.get_image_measurement_groups()
    sagittal = next(g for g in groups if g.tracking_identifier == "Sagittal alignment")
    lordosis = sagittal.get_measurements(name=Code("LL", "99SPINE", "Lumbar lordosis angle"))[0]
    assert float(lordosis.value) == round(result.measurements["lumbar_lordosis_deg"], 1)
    disc = next(g for g in groups if g.tracking_identifier == "Disc L4-L5")
    slip = disc.get_measurements(name=Code("SLIP", "99SPINE", "Vertebral slip"))[0]
    assert float(slip.value) == round(result.measurements["per_disc"]["L4-L5"]["slip_percent"], 1) and slip.unit.value == "%"


def test_segmentation_has_one_segment_per_vertebra_on_the_film(written):
    """Read with pydicom: highdicom's reader wants a slice thickness that a projection radiograph does not have."""
    from spine.geometry import Polygon

    film, result, paths = written["AP"]
    source, seg = pydicom.dcmread(film), pydicom.dcmread(paths.seg)
    assert [s.SegmentLabel for s in seg.SegmentSequence] == [v.level for v in result.spine.vertebrae]
    assert seg.ReferencedSeriesSequence[0].ReferencedInstanceSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert seg.StudyInstanceUID == source.StudyInstanceUID and seg.SegmentationType == "BINARY"
    frames = seg.pixel_array.reshape(-1, source.Rows, source.Columns)
    numbers = [f.SegmentIdentificationSequence[0].ReferencedSegmentNumber for f in seg.PerFrameFunctionalGroupsSequence]
    k = numbers.index(5)
    expected = result.spine.vertebrae[4].mask.rasterize((source.Rows, source.Columns))
    assert (frames[k].astype(bool) == expected).mean() > 0.999 and isinstance(result.spine.vertebrae[4].mask, Polygon)


def test_presentation_state_draws_on_the_film(written):
    film, result, paths = written["AP"]
    source, gsps = pydicom.dcmread(film), pydicom.dcmread(paths.gsps)
    assert gsps.ReferencedSeriesSequence[0].ReferencedImageSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    layers = {a.GraphicLayer for a in gsps.GraphicAnnotationSequence}
    assert layers == {"VERTEBRAE", "LEVELS", "COBB"}
    texts = [t.UnformattedTextValue for a in gsps.GraphicAnnotationSequence for t in a.get("TextObjectSequence", [])]
    assert f"{result.measurements['cobb'][0]['angle_deg']:.1f} deg" in " ".join(texts) and "T1" in texts


@pytest.mark.skipif(shutil.which("dciodvfy") is None, reason="dicom3tools (dciodvfy) not installed")
@pytest.mark.parametrize("view", ["AP", "LAT"])
def test_every_object_passes_dciodvfy(written, view):
    _, _, paths = written[view]
    for path in (paths.sr, paths.gsps, paths.seg):
        report = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True).stderr
        errors = [line for line in report.splitlines() if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"


def test_deterministic_uids_repeat_and_random_ones_do_not(written, tmp_path):
    from spine.dicomout import write_dicom_outputs

    film, result, _ = written["AP"]
    a = write_dicom_outputs(result, film, tmp_path / "a", "m", deterministic=True)
    b = write_dicom_outputs(result, film, tmp_path / "b", "m", deterministic=True)
    c = write_dicom_outputs(result, film, tmp_path / "c", "m")
    uid = lambda p: pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID  # noqa: E731
    assert uid(a.sr) == uid(b.sr) and uid(a.seg) == uid(b.seg) and uid(a.sr) != uid(c.sr)


def test_infer_dicom_out_for_dicom_and_a_clear_word_for_png(tmp_path):
    from helpers.models import random_model_set
    from PIL import Image

    from pipeline.infer import main as infer_main
    from spine.radiograph import read_radiograph

    film = sample_film(tmp_path / "films", "AP", seed=5)
    png = tmp_path / "films" / "plain.png"
    Image.fromarray(np.round(read_radiograph(film).pixels * 255).astype(np.uint8)).save(png)
    models = random_model_set(tmp_path / "models")
    infer_main(
        [str(film), str(png), "--out", str(tmp_path / "out"), "--dicom-out", str(tmp_path / "dcm"), "--models", str(models), "--quiet"]
    )
    result = json.loads((tmp_path / "out" / "plain.json").read_text())
    assert any("no DICOM output" in w for w in result["warnings"])
    assert not (tmp_path / "dcm" / "plain").exists()

"""Wrong results are never given silently (issue 35): pixel spacing no radiograph has, corners that are not numbers,
two patients' results subtracted, px from mm, a MONOCHROME1 film's presentation state; and no patient identifier
or library chatter in a DICOM film's log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest

from spine.phantom import sample_film

ROOT = Path(__file__).resolve().parents[1]


def _truth(tmp_path, seed=3):
    film = sample_film(tmp_path / f"s{seed}", seed=seed)
    return film, json.loads(film.with_suffix(".json").read_text())


def test_a_header_pixel_spacing_of_50_mm_is_not_used(tmp_path):
    from spine.radiograph import read_radiograph

    film, _ = _truth(tmp_path)
    ds = pydicom.dcmread(film)
    ds.PixelSpacing = [50, 50]
    ds.save_as(film)
    read = read_radiograph(film)
    assert read.spacing_mm is None and any("PixelSpacing 50 x 50 mm" in w and "not used" in w for w in read.warnings)


@pytest.mark.parametrize("spacing", [[1e9, 1e9], [0.001, 0.001]])
def test_a_results_implausible_spacing_is_not_used(tmp_path, spacing):
    from spine.remeasure import measure_result
    from spine.result import from_dict

    _, document = _truth(tmp_path)
    document["image"]["spacing_mm"] = spacing
    result = measure_result(from_dict(document))
    assert result.measurements["units"] == "px"
    assert any("spacing_mm" in w and "not used" in w for w in result.warnings)


@pytest.mark.parametrize("corner", [[True, "1"], ["1", 2], [None, 2], [float("nan"), 1], [[1], 2]])
def test_corners_must_be_finite_numbers(tmp_path, corner):
    from spine.result import ResultError, from_dict

    _, document = _truth(tmp_path)
    document["vertebrae"][4]["corners"][0] = corner
    with pytest.raises(ResultError, match="vertebra 5"):
        from_dict(document)


def _measure(*args):
    return subprocess.run([sys.executable, "-m", "pipeline.measure", *map(str, args)], cwd=ROOT, capture_output=True, text=True)


def test_compare_refuses_two_patients_unless_forced(tmp_path):
    _, a = _truth(tmp_path, 3)
    _, b = _truth(tmp_path, 4)
    a["image"]["patient_key"], b["image"]["patient_key"] = "1" * 16, "2" * 16
    (tmp_path / "a.json").write_text(json.dumps(a))
    (tmp_path / "b.json").write_text(json.dumps(b))
    refused = _measure(tmp_path / "a.json", "--compare", tmp_path / "b.json")
    assert refused.returncode == 2 and "different patients" in refused.stderr and refused.stderr.count("\n") == 1
    forced = _measure(tmp_path / "a.json", "--compare", tmp_path / "b.json", "--force")
    assert forced.returncode == 0 and "changes since" in forced.stdout


def test_compare_never_subtracts_px_from_mm(tmp_path):
    _, a = _truth(tmp_path, 3)
    b = json.loads(json.dumps(a))
    b["image"]["spacing_mm"] = None
    (tmp_path / "mm.json").write_text(json.dumps(a))
    (tmp_path / "px.json").write_text(json.dumps(b))
    done = _measure(tmp_path / "px.json", "--compare", tmp_path / "mm.json")
    assert done.returncode == 0 and "lengths not compared" in done.stdout
    changes = done.stdout.split("changes since")[1]
    assert "height" not in changes and "cobb" not in changes  # same geometry: angles equal, lengths left out


def test_a_monochrome1_films_presentation_state_is_inverse(tmp_path):
    from spine.dicomout.gsps import presentation_lut

    film, _ = _truth(tmp_path)
    ds = pydicom.dcmread(film)
    assert presentation_lut(ds).PresentationLUTShape == "IDENTITY"
    ds.PhotometricInterpretation = "MONOCHROME1"
    assert presentation_lut(ds).PresentationLUTShape == "INVERSE"


@pytest.mark.slow  # the shipped model set in a subprocess
def test_a_dicom_films_log_holds_no_identifier_and_no_library_chatter(tmp_path):
    film, _ = _truth(tmp_path)
    ds = pydicom.dcmread(film)
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "PID-48151623", "20090401"
    ds.save_as(film)
    ds = pydicom.dcmread(film)
    secrets = ["Doe", "PID-48151623", "20090401", str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)]
    done = subprocess.run([sys.executable, "-m", "pipeline.infer", str(film), "--out", str(tmp_path / "out"), "--quiet",
                           "--dicom-out", str(tmp_path / "dicom")], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list((tmp_path / "dicom").rglob("*.dcm")), "no DICOM output: the log test saw nothing"
    log = done.stdout + done.stderr
    assert not [s for s in secrets if s in log]
    assert "INFO" not in done.stderr or all("highdicom" not in line for line in done.stderr.splitlines())
    assert len(done.stderr.splitlines()) <= 2, done.stderr

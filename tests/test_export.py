"""The doctor's loop back to the PACS: a corrected result verified by a reader goes out as a FINAL, COMPLETE,
VERIFIED SR (the reader as Verifying Observer, the preliminary SR as its predecessor), a presentation state and a
segmentation in series of their own; the warnings the reader settled are kept as resolved and do not come back."""

from __future__ import annotations

import json
import shutil
import subprocess

import pydicom
import pytest

pytest.importorskip("highdicom")

from pipeline.export import main as export_main  # noqa: E402
from spine.phantom import sample_film  # noqa: E402
from spine.remeasure import MEASURE_PREFIX, measure_result, verified  # noqa: E402
from spine.result import from_dict, read_result, to_dict, write_result  # noqa: E402


@pytest.fixture
def corrected(tmp_path):
    """A DICOM film, its preliminary objects, and its result as a reader left it (one vertebra moved)."""
    from spine.dicomout import write_dicom_outputs

    film = sample_film(tmp_path / "film", "AP", seed=3)
    result = measure_result(read_result(film.with_suffix(".json")))
    preliminary = write_dicom_outputs(result, film, tmp_path / "preliminary", "test models")
    moved = result.spine.vertebrae[5]
    edited = result.with_(spine=result.spine.with_(vertebrae=tuple(
        v.with_(corners=v.corners + [3.0, 0.0], edited=True) if v is moved else v for v in result.spine.vertebrae)),
        warnings=result.warnings + ("level names uncertain: check T12-L1",))
    path = write_result(measure_result(edited), tmp_path / "sample_ap.json")
    return film, path, preliminary.sr


def test_verifying_settles_the_warnings_and_they_do_not_come_back():
    film_result = measure_result(read_result(sample_film_json()))
    noisy = film_result.with_(warnings=("level names uncertain: check T12-L1",) + film_result.warnings)
    checked = verified(noisy, "Dr  Reader", "2026-12-05T10:00:00Z")
    assert checked.verified.by == "Dr Reader" and checked.warnings == ()
    assert [w for w, _ in checked.resolved][0] == "level names uncertain: check T12-L1"
    again = measure_result(from_dict(to_dict(checked)))  # saved, read back, measured again
    assert again.verified == checked.verified and again.resolved == checked.resolved
    assert not [w for w in again.warnings if w.startswith(MEASURE_PREFIX)]
    with pytest.raises(ValueError, match="name"):
        verified(noisy, "  ")


def sample_film_json():
    import tempfile
    from pathlib import Path

    return sample_film(Path(tempfile.mkdtemp()), "AP", seed=3).with_suffix(".json")


def test_export_writes_a_verified_sr_that_replaces_the_preliminary_one(corrected, tmp_path, capsys):
    film, path, preliminary = corrected
    before = path.read_text()
    code = export_main([str(path), "--source", str(film), "--dicom-out", str(tmp_path / "out"), "--verified-by", "Reader^Ann",
                        "--predecessor", str(preliminary)])
    assert code == 0
    written = [tmp_path / "out" / line.strip() if not line.startswith("/") else line.strip()
               for line in capsys.readouterr().out.splitlines()]
    sr = pydicom.dcmread(next(p for p in written if str(p).endswith("_sr.dcm")))
    assert (sr.VerificationFlag, sr.CompletionFlag, sr.PreliminaryFlag) == ("VERIFIED", "COMPLETE", "FINAL")
    assert str(sr.VerifyingObserverSequence[0].VerifyingObserverName) == "Reader^Ann"
    earlier = pydicom.dcmread(preliminary)
    assert (earlier.VerificationFlag, earlier.PreliminaryFlag) == ("UNVERIFIED", "PRELIMINARY")
    predecessor = sr.PredecessorDocumentsSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert predecessor.ReferencedSOPInstanceUID == earlier.SOPInstanceUID
    assert sr.StudyInstanceUID == earlier.StudyInstanceUID and sr.SeriesInstanceUID != earlier.SeriesInstanceUID
    assert sr.SeriesNumber == 9111 and "verified" in sr.SeriesDescription
    document = json.loads(path.read_text())
    assert document["verified"]["by"] == "Reader^Ann" and document["warnings"] == []
    assert "level names uncertain: check T12-L1" in [r["warning"] for r in document["resolved_warnings"]]
    kept = list(path.parent.glob("sample_ap.json.before-verify-*"))
    assert len(kept) == 1 and kept[0].read_text() == before  # what the reader saved stays beside
    if shutil.which("dciodvfy"):
        for p in written:
            report = subprocess.run(["dciodvfy", str(p)], capture_output=True, text=True).stderr
            assert not [line for line in report.splitlines() if line.startswith("Error")], p


def test_export_refuses_what_it_cannot_send_in_one_line(corrected, tmp_path, capsys):
    film, path, preliminary = corrected
    png = tmp_path / "film.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    cases = [
        ([str(path), "--source", str(png), "--dicom-out", str(tmp_path / "o")], "DICOM output needs a DICOM film"),
        ([str(tmp_path / "none.json"), "--source", str(film), "--dicom-out", str(tmp_path / "o")], "none.json"),
        ([str(path), "--source", str(film), "--dicom-out", str(tmp_path / "o"), "--predecessor", str(film)], "not an SR"),
    ]
    for argv, message in cases:
        assert export_main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_a_failed_export_leaves_the_result_as_the_reader_saved_it(corrected, tmp_path):
    film, path, _ = corrected
    before = path.read_text()
    png = tmp_path / "film.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    assert export_main([str(path), "--source", str(png), "--dicom-out", str(tmp_path / "o"), "--verified-by", "Reader"]) == 2
    assert path.read_text() == before and not list(path.parent.glob("*.before-verify-*"))

"""Nothing a reader wrote is lost, one stem is one film, and a run says what it did (issue 35): infer's side."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from helpers.hardening import summary_rows as _rows

from pipeline.infer import main as infer_main
from spine.phantom import sample_film


def _run(film_or_folder, out, models, *extra) -> int:
    return infer_main([str(film_or_folder), "--out", str(out), "--models", str(models), "--quiet", *extra])


def test_infer_never_replaces_a_reviewed_result_and_keeps_it_beside_when_forced(tmp_path, models, film, capsys):
    out = tmp_path / "out"
    assert _run(film, out, models) == 0
    reviewed = json.loads((out / "sample_ap.json").read_text())
    reviewed["verified"] = {"by": "Dr Reader", "at": "2026-12-05T10:00:00Z"}
    (out / "sample_ap.json").write_text(json.dumps(reviewed))
    (out / "sample_ap.auto.json").write_text(json.dumps({**reviewed, "verified": None}))
    before = (out / "sample_ap.json").read_bytes()
    assert _run(film, out, models, "--again") == 0
    assert (out / "sample_ap.json").read_bytes() == before and "--overwrite-reviewed" in capsys.readouterr().out
    assert _run(film, out, models, "--again", "--overwrite-reviewed") == 0
    kept = list(out.glob("sample_ap.json.reviewed-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == before and list(out.glob("sample_ap.auto.json.reviewed-*"))
    assert "verified" not in json.loads((out / "sample_ap.json").read_text())


def test_one_stem_never_stands_for_two_films_across_runs(tmp_path, models):
    first, second = sample_film(tmp_path / "a", seed=3), sample_film(tmp_path / "b", seed=4)
    out = tmp_path / "out"
    assert _run(first, out, models) == 0
    before = (out / "sample_ap.json").read_bytes()
    assert _run(second, out, models) == 1  # refused: the stem holds the other film's result
    assert (out / "sample_ap.json").read_bytes() == before
    row = _rows(out)[-1]
    assert row["status"] == "error" and "another film" in row["error"] and "another --out" in row["error"]


def test_a_rerun_skips_films_measured_by_the_same_models_unless_again(tmp_path, models, film, capsys):
    out = tmp_path / "out"
    assert _run(film, out, models) == 0
    stamp = (out / "sample_ap.json").stat().st_mtime_ns
    capsys.readouterr()
    assert _run(film, out, models) == 0
    assert (out / "sample_ap.json").stat().st_mtime_ns == stamp and "1 skipped" in capsys.readouterr().out
    assert len(_rows(out)) == 1  # a film skipped as done adds no row
    result = json.loads((out / "sample_ap.json").read_text())
    assert len(result["image"]["sha256"]) == 64 and len(result["model"]["digest"]) == 64
    changed = tmp_path / "models2"
    shutil.copytree(models, changed)
    with open(changed / "pipeline.yaml", "a") as handle:
        handle.write("# another model set\n")
    assert _run(film, out, changed) == 0 and (out / "sample_ap.json").stat().st_mtime_ns != stamp  # models changed: again
    stamp = (out / "sample_ap.json").stat().st_mtime_ns
    assert _run(film, out, changed, "--again") == 0 and (out / "sample_ap.json").stat().st_mtime_ns != stamp


def test_the_summary_lists_every_result_present(tmp_path, models, film):
    out = tmp_path / "out"
    assert _run(film, out, models) == 0
    shutil.copy(out / "sample_ap.json", out / "orphan.json")  # a result whose row a Ctrl-C cut off
    other = sample_film(tmp_path / "x", seed=5)
    shutil.move(other, tmp_path / "other.dcm")
    assert _run(tmp_path / "other.dcm", out, models) == 0
    assert {r["stem"] for r in _rows(out)} == {"sample_ap", "orphan", "other"}


def test_ctrl_c_is_held_back_until_a_result_and_its_row_are_written():
    from spine.files import uninterrupted

    done = []
    with pytest.raises(KeyboardInterrupt):
        with uninterrupted():
            os.kill(os.getpid(), signal.SIGINT)
            done.append("result")
            done.append("row")
    assert done == ["result", "row"]


def test_out_inside_the_input_folder_is_never_measured(tmp_path, models, film):
    folder = tmp_path / "films"
    folder.mkdir()
    shutil.copy(film, folder / "f.dcm")
    out = folder / "results"
    assert _run(folder, out, models) == 0
    assert _run(folder, out, models, "--again") == 0
    assert {r["file"].split("/")[-1] for r in _rows(out)} == {"f.dcm"}  # never its own overlays


def test_skipped_files_are_named_with_their_reason_and_no_spine_is_counted_apart(tmp_path, models, film, capsys):
    folder = tmp_path / "films"
    folder.mkdir()
    shutil.copy(film, folder / "film.dcm")
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "notes.txt").write_text("not a film")
    out = tmp_path / "out"
    assert _run(folder, out, models) == 0
    rows = {r["file"].split("/")[-1]: r for r in _rows(out)}
    assert rows["empty.jpg"]["status"] == "skipped" and rows["empty.jpg"]["error"] == "empty file"
    assert rows["notes.txt"]["status"] == "skipped" and "not a film" in rows["notes.txt"]["error"]
    printed = capsys.readouterr().out
    assert "notes.txt: skipped: not a film" in printed and "2 skipped" in printed
    status = rows["film.dcm"]["status"]  # random networks: no spine, which is not "measured"
    assert status in ("ok", "no spine") and ("1 with no spine found" in printed) == (status == "no spine")


def test_a_newline_in_a_file_name_keeps_one_line_per_film(tmp_path, models, film, capsys):
    odd = tmp_path / "two\nlines.dcm"
    shutil.copy(film, odd)
    out = tmp_path / "out"
    assert _run(odd, out, models) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "lines.dcm" in line]
    assert len(lines) == 1 and "two\\nlines.dcm" in lines[0]
    assert (out / "summary.csv").read_text().count("\n") == 2  # header and one row


def test_anonymise_with_dicom_out_is_refused_in_one_line(tmp_path, models, film, capsys):
    assert _run(film, tmp_path / "out", models, "--anonymise", "--dicom-out", str(tmp_path / "dicom")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --anonymise with --dicom-out") and "\n" not in err and not (tmp_path / "dicom").exists()


def test_notes_are_not_warnings(tmp_path, models, film):
    out = tmp_path / "out"
    assert _run(film, out, models) == 0
    result = json.loads((out / "sample_ap.json").read_text())
    assert not any("off the spine's chain" in w or w.startswith("view not given") for w in result["warnings"])
    assert _rows(out)[0]["notes"] == " | ".join(result.get("notes", []))


def _mangled_set(models: Path, tmp_path: Path, change) -> Path:
    target = tmp_path / "mangled"
    shutil.copytree(models, target)
    change(target)
    return target


def _meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    (folder / "meta.json").write_text(json.dumps({**meta, **changes}))


@pytest.mark.slow  # five model loads: in .ci/run's second tier
@pytest.mark.parametrize("change,said", [
    (lambda f: _meta(f, format="spine-model-set/9"), "format 'spine-model-set/9'"),
    (lambda f: _meta(f, corner_order=["superior_right", "superior_left", "inferior_left", "inferior_right"]), "corner_order"),
    (lambda f: _meta(f / "keypoints", corner_order=["inferior_left", "superior_right", "superior_left", "inferior_right"]), "corner_order"),
    (lambda f: (f / "segmenter" / "weights.safetensors").write_bytes((f / "segmenter" / "weights.safetensors").read_bytes()[:5000]),
     "not a readable weights file"),
    (lambda f: shutil.copy(f / "keypoints" / "weights.safetensors", f / "segmenter" / "weights.safetensors"), "does not fit"),
])
def test_a_mangled_model_set_is_refused_at_load_in_one_line(tmp_path, models, film, capsys, change, said):
    mangled = _mangled_set(models, tmp_path, change)
    assert _run(film, tmp_path / "out", mangled) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and "\n" not in err and "Traceback" not in err


@pytest.mark.slow
def test_a_swapped_int8_twin_is_refused_at_load(tmp_path):
    from pipeline.core import UsageError, load_models
    from spine.paths import DEFAULT_MODELS

    swapped = tmp_path / "swapped"
    shutil.copytree(DEFAULT_MODELS, swapped)
    shutil.copy(DEFAULT_MODELS / "keypoints" / "int8.onnx", swapped / "segmenter" / "int8.onnx")
    with pytest.raises(UsageError, match="int8.onnx does not fit"):
        load_models(str(swapped), "cpu")

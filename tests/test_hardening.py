"""Hostile and careless inputs get clear answers (issue 12): a model folder never runs code; folders, names,
modalities, interruptions and second runs are handled; every run-level error is one line and a non-zero exit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from helpers.hardening import summary_rows as _rows

from pipeline.infer import main as infer_main


def expand_inputs(items):
    from spine.inputs import expand_inputs as expand

    return expand(items)


def output_stems(paths):
    from spine.inputs import output_stems as stems

    return stems(paths)

ROOT = Path(__file__).resolve().parents[1]


# 1. a model folder can run code
def test_poisoned_model_folder_is_refused_and_runs_nothing(tmp_path, models, film, capsys):
    poisoned = tmp_path / "poisoned"
    shutil.copytree(models, poisoned)
    marker = tmp_path / "pwned"
    spec = yaml.safe_load((poisoned / "detector" / "model.yaml").read_text())
    spec["activation"] = f"__import__('os').system('touch {marker}') or nn.SiLU()"
    (poisoned / "detector" / "model.yaml").write_text(yaml.safe_dump(spec))
    status = infer_main([str(film), "--out", str(tmp_path / "out"), "--models", str(poisoned), "--quiet"])
    assert status == 2 and not marker.exists()
    err = capsys.readouterr().err
    assert "refused" in err and "activation" in err and "Traceback" not in err


def test_restricted_loading_blocks_the_activation_even_past_the_check(models, tmp_path):
    from ultralytics.nn import tasks

    spec = yaml.safe_load((models / "detector" / "model.yaml").read_text())
    spec["activation"] = f"__import__('os').system('touch {tmp_path / 'x'}') or nn.SiLU()"
    tasks._SafeLoad._local.active = True
    try:
        with pytest.raises(TypeError, match="blocked"):
            tasks.DetectionModel(spec, ch=1, nc=1, verbose=False)
    finally:
        tasks._SafeLoad._local.active = False
    assert not (tmp_path / "x").exists()


# 3. folders: extensionless DICOMs, subfolders, nothing to process
def test_folders_are_searched_recursively_by_content(tmp_path, film):
    tree = tmp_path / "export" / "PATIENT" / "STUDY"
    tree.mkdir(parents=True)
    shutil.copy(film, tree / "IM000001")
    (tree / "notes.txt").write_text("not a film")
    (tmp_path / "export" / "DICOMDIR").write_bytes(b"\x00" * 128 + b"DICM")
    found = expand_inputs([str(tmp_path / "export")])
    assert [p.name for p in found] == ["IM000001"]


def test_empty_folder_or_glob_matching_nothing_is_an_error(tmp_path, models, capsys):
    from spine.inputs import NothingToDo

    (tmp_path / "empty").mkdir()
    with pytest.raises(NothingToDo):
        expand_inputs([str(tmp_path / "empty")])
    assert infer_main([str(tmp_path / "empty"), str(tmp_path / "*.dcm"), "--out", str(tmp_path / "o"), "--models", str(models)]) == 2
    assert "nothing to process" in capsys.readouterr().err


# 4. output names never collide
def test_output_names_are_unique_and_safe(tmp_path):
    paths = [tmp_path / "a" / "sub" / "film.png", tmp_path / "b" / "sub" / "film.png", tmp_path / "a" / "film.png",
             tmp_path / "a" / "film.jpg", tmp_path / "c" / "we ird:name?.dcm"]
    stems = output_stems(paths)
    assert len(set(stems.values())) == len(paths)
    assert stems[paths[0]] == "a__sub__film" and stems[paths[1]] == "b__sub__film"
    assert {stems[paths[2]], stems[paths[3]]} == {"a__film_png", "a__film_jpg"}
    assert all(set(s) <= set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") for s in stems.values())
    assert output_stems([tmp_path / "x" / "film.png"])[tmp_path / "x" / "film.png"] == "film"


def test_same_name_in_two_folders_gives_two_results(tmp_path, models, film):
    for name in ("a", "b"):
        (tmp_path / name / "sub").mkdir(parents=True)
        shutil.copy(film, tmp_path / name / "sub" / "film.dcm")
    out = tmp_path / "out"
    assert infer_main([str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(out), "--models", str(models), "--quiet"]) == 0
    assert (out / "a__sub__film.json").exists() and (out / "b__sub__film.json").exists()


# 5. only radiographs are measured
@pytest.mark.parametrize("name,modality", [("CT_small.dcm", "CT"), ("MR_small.dcm", "MR"), ("rtdose.dcm", "RTDOSE"),
                                           ("rtplan.dcm", "RTPLAN"), ("examples_palette.dcm", "US")])
def test_other_modalities_are_refused_naming_the_modality(name, modality):
    from pydicom.data import get_testdata_file

    from spine.radiograph import RadiographError, read_radiograph

    with pytest.raises(RadiographError, match=modality) as info:
        read_radiograph(get_testdata_file(name))
    assert "\n" not in str(info.value)


def test_noise_a_checkerboard_and_pydicoms_test_image_have_no_plausible_spine(shipped_models):
    """pydicom's image_dfl.dcm (a secondary capture, refused as a DICOM) once gave 3 vertebrae and a Cobb angle
    when its pixels came as a plain image."""
    from pydicom.data import get_testdata_file

    from pipeline.core import measure_film
    from spine.radiograph import Radiograph, read_radiograph

    models = shipped_models
    rng = np.random.default_rng(0)
    board = np.kron((np.indices((16, 8)).sum(axis=0) % 2).astype(np.float32), np.ones((64, 64), np.float32))
    test_image = read_radiograph(get_testdata_file("image_dfl.dcm"), any_modality=True).pixels
    for pixels in (test_image, rng.random((1024, 512)).astype(np.float32), board):
        result = measure_film(Radiograph(pixels, "x.png"), models, "ap")
        assert len(result.spine) == 0 and any("no spine" in w for w in result.warnings)


# 6. tracebacks instead of answers
def test_run_level_errors_are_one_line_and_exit_2(tmp_path, models, film, capsys):
    afile = tmp_path / "a_file"
    afile.write_text("x")
    cases = [
        ["--out", str(afile), "--models", str(models)],
        ["--out", str(tmp_path / "o1"), "--models", str(tmp_path / "missing")],
        ["--out", str(tmp_path / "o2"), "--models", str(models), "--device", "cuda:7"],
    ]
    for extra in cases:
        assert infer_main([str(film), "--quiet"] + extra) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_out_is_found_before_the_models_load(tmp_path, film, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o500)
    assert infer_main([str(film), "--out", str(out), "--models", str(tmp_path / "never-loaded")]) == 2
    assert "cannot write" in capsys.readouterr().err


def test_non_utf8_file_name_keeps_the_summary(tmp_path, models, film):
    folder = tmp_path / "films"
    folder.mkdir()
    odd = os.fsdecode(b"film-\xff\xfe.dcm")
    shutil.copy(film, folder / odd)
    out = tmp_path / "out"
    assert infer_main([str(folder), "--out", str(out), "--models", str(models), "--quiet"]) == 0
    rows = _rows(out)
    assert len(rows) == 1 and rows[0]["status"] in ("ok", "no spine") and "\\xff" in rows[0]["file"]


@pytest.mark.parametrize("payload", ["[1]", '{"schema": "spine-geometry/1", "image": {"width": 1, "height": 1}, "vertebrae": "abc"}',
                                     '{"schema": "spine-geometry/1", "image": 5}', "[" * 100_000 + "]" * 100_000,
                                     '{"schema": "spine-geometry/1", "image": {"width": 1, "height": 1}, "vertebrae": [{"box": [1, 2]}]}'])
def test_measure_on_malformed_json_is_one_line(tmp_path, capsys, payload):
    from pipeline.measure import main as measure_main

    (tmp_path / "bad.json").write_text(payload)
    assert measure_main([str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read result") and err.count("\n") == 1


def test_evaluate_with_missing_data_is_one_line(tmp_path, capsys):
    from pipeline.evaluate import main as evaluate_main

    assert evaluate_main(["--data", str(tmp_path / "none"), "--format", "phantom", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_undecodable_dicom_is_one_line_in_log_and_summary(tmp_path, models, film, capsys):
    import pydicom
    from pydicom.encaps import encapsulate
    from pydicom.uid import JPEGBaseline8Bit

    ds = pydicom.dcmread(film)
    ds.PixelData = encapsulate([b"\xff\xd8\xff\xe0 not really a jpeg\nline two\nline three"])
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds["PixelData"].is_undefined_length = True
    bad = tmp_path / "bad.dcm"
    ds.save_as(bad, enforce_file_format=True)
    out = tmp_path / "out"
    assert infer_main([str(bad), "--out", str(out), "--models", str(models), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    text = (out / "summary.csv").read_text(encoding="utf-8")
    assert text.count("\n") == 2 and "bad.dcm" in text  # header and one row, the error on one line


# 8. symlink loops and types by content
def test_symlink_loop_gives_each_film_once(tmp_path, film):
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    shutil.copy(film, root / "a" / "film.dcm")
    os.symlink(root, root / "a" / "loop")
    os.symlink(root / "a", root / "a" / "loop2")
    found = expand_inputs([str(root), str(tmp_path / "tree" / "**" / "*.dcm")])
    assert [p.name for p in found] == ["film.dcm"]


def test_png_named_dcm_is_read_as_png(tmp_path):
    from PIL import Image

    from spine.radiograph import read_radiograph

    Image.fromarray(np.full((50, 40), 128, np.uint8)).save(tmp_path / "x.png")
    shutil.copy(tmp_path / "x.png", tmp_path / "x.dcm")
    assert read_radiograph(tmp_path / "x.dcm").pixels.shape == (50, 40)

"""pipeline.infer batch behaviour: bad files get a clear error, the rest are processed, nothing half-written."""

from __future__ import annotations

import csv
import json

import pytest
from helpers.models import random_model_set

from pipeline.infer import main
from pipeline.modelset import ModelSet
from spine.inputs import expand_inputs
from spine.phantom import sample_film


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return random_model_set(tmp_path_factory.mktemp("models"))


def test_bad_files_do_not_stop_the_batch(tmp_path, models):
    films = tmp_path / "films"
    films.mkdir()
    good = sample_film(films, "AP", seed=2)
    (films / "corrupt.dcm").write_bytes(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00\x55\x49\x1a\x00garbage")
    (films / "empty.png").write_bytes(b"")  # inside a folder: not a film by its content, skipped
    (tmp_path / "named.png").write_bytes(b"")  # named directly: reported
    out = tmp_path / "out"
    status = main([str(films), str(tmp_path / "named.png"), "--out", str(out), "--models", str(models), "--quiet"])
    assert status == 1
    rows = {r["file"].split("/")[-1]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows[good.name]["status"] in ("ok", "no spine")  # random networks may find none
    assert rows["corrupt.dcm"]["status"] == "error" and "corrupt.dcm" in rows["corrupt.dcm"]["error"]
    assert rows["empty.png"]["status"] == "skipped" and rows["empty.png"]["error"] == "empty file"  # named, with its reason
    assert rows["named.png"]["status"] == "error" and "empty" in rows["named.png"]["error"]
    stem = rows[good.name]["stem"]
    assert stem == "films__sample_ap"  # the path below the inputs' common folder
    result = json.loads((out / f"{stem}.json").read_text())
    assert result["schema"] == "spine-geometry/1"
    assert result["model"]["name"] and set(result["model"]["runtimes"]) >= {"segmenter", "keypoints"}  # what produced it
    assert set(result["model"]["runtimes"].values()) <= {"torch", "onnx", "onnx-int8"}
    assert (out / f"{stem}_overlay.png").exists()
    assert not list(out.glob("corrupt*")) and not list(out.glob("empty*"))
    assert not list(out.glob(".*.tmp"))  # nothing half-written


def test_inputs_expand_folders_globs_and_files(tmp_path):
    for name, content in (("a.png", b"\x89PNG\r\n"), ("b.dcm", b"\x00" * 128 + b"DICM"), ("c.txt", b"x"), ("d.JPG", b"\xff\xd8\xff\xe0")):
        (tmp_path / name).write_bytes(content)
    found = expand_inputs([str(tmp_path), str(tmp_path / "*.png"), str(tmp_path / "b.dcm")])
    assert [p.name for p in found] == ["a.png", "b.dcm", "d.JPG"]


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for flag in ("--out", "--models", "--view", "--device", "--anterior", "--demo"):
        assert flag in text


def test_models_load_once_and_no_spine_is_reported(tmp_path, models):
    import numpy as np

    from pipeline.core import measure_film
    from spine.radiograph import Radiograph

    loaded = ModelSet.load(models)
    blank = Radiograph(np.zeros((400, 200), np.float32), "blank.png")
    result = measure_film(blank, loaded)
    if len(result.spine) == 0:
        assert any("no spine" in w for w in result.warnings)
    assert result.image.view == "AP" and any("view not given" in n for n in result.notes)
    assert not any("view not given" in w for w in result.warnings)  # a note, nothing to check

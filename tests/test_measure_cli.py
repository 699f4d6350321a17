"""python -m pipeline.measure: re-measure an edited result, compare two, never crash on bad vertebrae."""

from __future__ import annotations

import json

import numpy as np

from pipeline.measure import main
from spine.phantom import sample_film


def test_remeasure_an_edited_result_and_compare(tmp_path, capsys):
    film = sample_film(tmp_path, "AP", seed=3)
    truth = film.with_suffix(".json")
    assert main([str(truth), "--out", str(tmp_path / "m.json")]) == 0
    first = json.loads((tmp_path / "m.json").read_text())
    assert first["measurements"]["cobb"] and len(first["measurements"]["aasce_cobb_deg"]) == 3
    assert first["measurements"]["units"] == "mm"

    edited = json.loads(truth.read_text())
    corners = np.asarray(edited["vertebrae"][0]["corners"])
    edited["vertebrae"][0]["corners"] = corners[[2, 3, 0, 1]].tolist()  # a hand edit that broke the order
    edited["vertebrae"][5]["corners"] = (np.asarray(edited["vertebrae"][5]["corners"]) + [0, 3]).tolist()
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    assert main([str(tmp_path / "edited.json"), "--compare", str(truth), "--out", str(tmp_path / "c.json")]) == 0
    out = json.loads((tmp_path / "c.json").read_text())
    assert any("T1: corners out of order" in w for w in out["warnings"])
    assert "T1" not in out["measurements"]["per_vertebra"] and "T2" in out["measurements"]["per_vertebra"]
    assert "differences" in out["comparison"] and out["comparison"]["earlier"] == str(truth)

    assert main([str(truth)]) == 0
    printed = capsys.readouterr().out
    assert "Cobb" in printed and "AASCE" in printed


def test_unreadable_result_is_a_clear_error(tmp_path, capsys):
    (tmp_path / "bad.json").write_text("{not json")
    assert main([str(tmp_path / "bad.json")]) == 2
    assert "cannot read result" in capsys.readouterr().err

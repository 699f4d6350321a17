"""Two evaluation reports compared film by film: the paired difference, its bootstrap interval, the verdict."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.compare_reports import compare_reports, main, verdict
from spine.measures.aasce import smape, smape_per_film
from spine.modelfolder import update_meta, without_per_film
from spine.research.metrics import paired_difference, paired_shares


def test_smape_per_film_by_hand_and_its_mean_is_the_smape():
    p, t = [[10, 0, 0], [10, 20, 30], [0, 0, 0]], [[20, 0, 0], [10, 20, 30], [0, 0, 0]]
    assert smape_per_film(p, t) == pytest.approx([100 / 3, 0.0, 0.0])
    assert smape_per_film(p, t).mean() == pytest.approx(smape(p, t))


def test_paired_difference_sees_a_shift_and_not_noise():
    rng = np.random.default_rng(3)
    before = rng.normal(10, 3, 60)
    shifted = paired_difference(before, before - 1 + rng.normal(0, 0.2, 60), resamples=999)
    assert shifted["difference"] == pytest.approx(-1, abs=0.1) and shifted["ci95"][0] < -1 < shifted["ci95"][1] < 0
    noisy = paired_difference(before, before + rng.normal(0, 1, 60), resamples=999)
    assert noisy["ci95"][0] < 0 < noisy["ci95"][1]
    same = paired_difference(before, before)
    assert same["difference"] == 0 and same["ci95"] == [0.0, 0.0]
    assert paired_difference(before, before + 0.5)["ci95"] == pytest.approx([0.5, 0.5])


def test_paired_difference_weights_each_side_as_its_report_does():
    """Mean corner error over corners: film means weighted by the corners each side found."""
    out = paired_difference([2.0, 4.0, 6.0], [2.0, 4.0, 3.0], [4, 4, 8], [4, 4, 4], resamples=99)
    assert out["before"] == pytest.approx((8 + 16 + 48) / 16) and out["after"] == pytest.approx((8 + 16 + 12) / 12)
    with pytest.raises(ValueError):
        paired_difference([1.0, 2.0], [1.0])


def report(corners: dict, smapes: dict, data="films") -> dict:
    return {"data": data,
            "corners": {"cascade": {"per_film": {f: {"mean_px": m, "corners": 68} for f, m in corners.items()}}},
            "cobb_measured": {"cascade": {"per_film": {f: {"aasce_smape": s, "major_curve_error_deg": s / 3}
                                                        for f, s in smapes.items()}}}}


def test_compare_reports_pairs_films_by_name_and_says_what_it_left_out():
    films = [f"film{k}" for k in range(40)]
    rng = np.random.default_rng(0)
    px, sm = rng.normal(12, 3, 40), rng.gamma(2, 3, 40)
    before = report(dict(zip(films, px)), dict(zip(films, sm)))
    after = report({**dict(zip(films, px - 2)), "extra": 5.0}, dict(zip(films, sm + rng.normal(0, 2, 40))))
    rows = {r["figure"]: r for r in compare_reports(before, after, resamples=999)}
    corners = rows["corners, detector's boxes: mean px"]
    assert corners["films"] == 40 and corners["films_in_one_only"] == 1 and corners["difference"] == pytest.approx(-2)
    assert verdict(corners) == "better"
    assert verdict(rows["AASCE SMAPE % as measured, detector's boxes"]) == "within noise"
    assert "Dice, true boxes" not in rows  # neither report holds it
    with pytest.raises(ValueError, match="different data"):
        compare_reports(before, report({}, {}, data="other"))


def test_cli_writes_the_comparison_and_refuses_reports_without_rows(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(report({"x": 1.0, "y": 2.0, "z": 3.0}, {"x": 5.0, "y": 6.0, "z": 7.0})))
    b.write_text(json.dumps(report({"x": 2.0, "y": 3.0, "z": 4.0}, {"x": 5.0, "y": 6.0, "z": 7.0})))
    assert main([str(a), str(b), "--out", str(tmp_path / "c.json"), "--resamples", "99"]) == 0
    assert "| corners, detector's boxes: mean px | 3 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())["figures"][0]["difference"] == pytest.approx(1)
    (tmp_path / "old.json").write_text(json.dumps({"data": "films", "corners": {"cascade": {"corners": {}}}}))
    assert main([str(a), str(tmp_path / "old.json")]) == 2
    assert main([str(a), str(tmp_path / "missing.json")]) == 2


def test_model_folders_keep_summary_figures_not_per_film_rows(tmp_path):
    (tmp_path / "meta.json").write_text("{}")
    meta = update_meta(tmp_path, validation={"dice_mean": 0.9, "per_film": {"a": {}}, "cascade": [{"per_film": {}, "x": 1}]})
    assert meta["validation"] == {"dice_mean": 0.9, "cascade": [{"x": 1}]}
    assert without_per_film({"per_film": 1}) == {}


def test_a_share_of_films_is_judged_by_the_films_that_changed():
    """3 films lost and none gained is not enough (exact p 0.25), though a bootstrap interval would leave 0 out."""
    before = np.ones(50, bool)
    after = before.copy()
    after[:3] = False
    assert paired_shares(before, after) == {"films_better": 0, "films_worse": 3, "p_mcnemar": pytest.approx(0.25)}
    after[:8] = False
    assert paired_shares(before, after)["p_mcnemar"] < 0.01
    rows = lambda flags: {"data": "d", "naming": {"per_film": {f"f{k}": {"all_right": bool(v)} for k, v in enumerate(flags)}}}  # noqa: E731
    row = compare_reports(rows(before), rows(np.arange(50) >= 3), resamples=999)[0]
    assert row["films_worse"] == 3 and verdict(row) == "within noise"

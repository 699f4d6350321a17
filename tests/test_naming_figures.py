"""The naming figures: names scored apart from box overlap, the shift, and the flag's calibration."""

from __future__ import annotations

from detector.levels.training.evaluate import film_row, summarise
from spine.geometry import AASCE_LEVELS, STANDARD_LEVELS, Box, Spine, Vertebra
from spine.result import LEVELS_DISPUTED, LEVELS_UNCERTAIN


def truth() -> Spine:
    return Spine(tuple(Vertebra(name, Box(100, 40 * k, 160, 40 * k + 30)) for k, name in enumerate(AASCE_LEVELS)))


def renamed(spine: Spine, offset: int) -> Spine:
    return spine.with_(vertebrae=tuple(v.with_(level=STANDARD_LEVELS[STANDARD_LEVELS.index(v.level) + offset]) for v in spine.vertebrae))


def test_a_loose_box_fails_the_overlap_figure_but_not_the_names():
    found = list(truth().vertebrae)
    last = found[-1].box
    found[-1] = found[-1].with_(box=Box(last.x1, last.y1 + 12, last.x2, last.y2 + 12))  # IoU 0.43 with the truth
    row = film_row(Spine(tuple(found)), truth(), AASCE_LEVELS, [])
    assert row["all_right"] is False and row["all_named_right"] is True and row["shift"] == 0


def test_a_chain_named_one_level_high_fails_both_and_is_a_minus_one_shift():
    row = film_row(renamed(truth(), -1), truth(), AASCE_LEVELS, [])
    assert row["all_right"] is False and row["all_named_right"] is False and row["shift"] == -1


def test_the_flag_is_scored_against_either_figure():
    good = film_row(truth(), truth(), AASCE_LEVELS, [])
    shifted = film_row(renamed(truth(), 1), truth(), AASCE_LEVELS, [f"{LEVELS_UNCERTAIN}: close call"])
    figures = summarise([good, shifted], AASCE_LEVELS)
    assert figures["films_all_levels_correct"] == 0.5 and figures["films_all_named_right"] == 0.5
    assert figures["flagged"] == {"films": 1, "wrong": 1, "misnamed": 1}
    assert figures["unflagged"] == {"films": 1, "wrong": 0, "misnamed": 0}
    assert figures["shift_histogram"]["1"] == 1 and figures["shift_histogram"]["0"] == 1


def test_unflagged_films_split_into_disputed_and_neither():
    good = film_row(truth(), truth(), AASCE_LEVELS, [])
    disputed_wrong = film_row(renamed(truth(), -1), truth(), AASCE_LEVELS, [f"{LEVELS_DISPUTED}: the count differs"])
    disputed_right = film_row(truth(), truth(), AASCE_LEVELS, [f"{LEVELS_DISPUTED}: the count differs"])
    uncertain = film_row(renamed(truth(), 1), truth(), AASCE_LEVELS, [f"{LEVELS_UNCERTAIN}: close call"])
    figures = summarise([good, disputed_wrong, disputed_right, uncertain], AASCE_LEVELS)
    assert figures["flagged"] == {"films": 1, "wrong": 1, "misnamed": 1}
    assert figures["unflagged"] == {"films": 3, "wrong": 1, "misnamed": 1}
    assert figures["disputed"] == {"films": 2, "wrong": 1, "misnamed": 1}
    assert figures["neither"] == {"films": 1, "wrong": 0, "misnamed": 0}


def test_a_phantoms_age_and_sex_reach_the_finder(tmp_path):
    """An identifier trained with age and sex is measured with them (the phantoms' records hold them)."""
    from detector.levels.training.evaluate import evaluate_naming
    from spine.phantom import PhantomSpec, make_phantom, write_phantom
    from spine.research.datasets import load_phantom_folder

    write_phantom(make_phantom(PhantomSpec(view="AP", seed=5, height_px=256, age=14, sex="M")), tmp_path, "p", fmt="png")
    calls = []

    class Finder:
        def priors(self, view):
            from detector.priors import PriorsConfig

            return PriorsConfig()

        def find(self, pixels, view, spacing_mm=None, age=None, sex=None):
            calls.append((view, age, sex))
            return Spine(()), []

    evaluate_naming(Finder(), load_phantom_folder(tmp_path))
    assert calls == [("AP", 14.0, "M")]


def test_the_overlay_legend_tells_uncertain_from_disputed_names():
    from spine.overlay import _legend_lines
    from spine.result import ImageInfo, SpineResult

    def legend(*warnings):
        return [text for text, _ in _legend_lines(SpineResult(ImageInfo("x.png", 10, 10), truth(), {}, warnings))]

    assert legend(f"{LEVELS_UNCERTAIN}: close call")[0].startswith("LEVEL NAMES UNCERTAIN")
    assert legend(f"{LEVELS_DISPUTED}: counted otherwise")[0].startswith("Level names differ from the count")
    assert not any("Level" in line or "LEVEL" in line for line in legend())

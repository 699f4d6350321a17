"""Level identification: the lattice decode on synthetic probability sequences, labels by anatomy, renaming a
chain, the network's shapes, and (slow tier) one epoch of training on phantoms."""

from __future__ import annotations

import numpy as np
import pytest

from detector.levels.decode import CLASSES, NONE, DecodeConfig, decode, shift_between
from spine.geometry import AASCE_LEVELS, Box, Spine, Vertebra, level_range

CFG = DecodeConfig()


def sequence(names: list[str | None], strength: float = 0.9) -> np.ndarray:
    """(n, C) log-probabilities: ``strength`` on each named class ('none' for None), the rest spread evenly."""
    logp = np.full((len(names), len(CLASSES)), np.log((1 - strength) / (len(CLASSES) - 1)))
    for i, name in enumerate(names):
        logp[i, NONE if name is None else CLASSES.index(name)] = np.log(strength)
    return logp


def flat(n: int) -> np.ndarray:
    return np.full((n, len(CLASSES)), np.log(1 / len(CLASSES)))


def test_clean_chain_is_named_as_seen_and_sure():
    naming = decode(sequence(list(AASCE_LEVELS)), CFG, AASCE_LEVELS)
    assert naming.labels == AASCE_LEVELS
    assert not naming.uncertain(CFG) and naming.margin > 4
    assert np.allclose(naming.posterior.sum(axis=1), 1)
    assert (naming.posterior.argmax(axis=1) == [CLASSES.index(n) for n in AASCE_LEVELS]).all()


def test_extra_c7_above_t1_is_named_c7():
    naming = decode(sequence(["C7", *AASCE_LEVELS]), CFG, AASCE_LEVELS)
    assert naming.labels == ("C7", *AASCE_LEVELS)
    assert not naming.uncertain(CFG)


def test_extra_s1_below_l5_is_named_s1_not_a_shift():
    naming = decode(sequence([*AASCE_LEVELS, "S1"]), CFG, AASCE_LEVELS)
    assert naming.labels[-1] == "S1" and naming.labels[0] == "T1"


def test_missing_t5_leaves_its_place_free():
    names = [n for n in AASCE_LEVELS if n != "T5"]
    naming = decode(sequence(names), CFG, AASCE_LEVELS)
    assert naming.labels == tuple(names)


def test_l6_with_strong_evidence_gives_18_levels():
    naming = decode(sequence([*AASCE_LEVELS, "L6"], strength=0.97), CFG, AASCE_LEVELS)
    assert naming.labels == (*AASCE_LEVELS, "L6") and len(naming.labels) == 18


def test_flat_sequence_falls_back_to_count_naming_and_is_uncertain():
    naming = decode(flat(17), CFG, AASCE_LEVELS)
    assert naming.labels == AASCE_LEVELS and naming.uncertain(CFG)
    fewer = decode(flat(15), CFG, AASCE_LEVELS)
    assert fewer.labels == AASCE_LEVELS[:15] and fewer.uncertain(CFG)


def test_member_that_is_no_vertebra_is_dropped():
    names = list(AASCE_LEVELS)
    names.insert(6, None)
    naming = decode(sequence(names), CFG, AASCE_LEVELS)
    assert naming.labels[6] is None and tuple(n for n in naming.labels if n) == AASCE_LEVELS


def test_shifted_evidence_gives_a_shifted_naming():
    shifted = list(level_range("C7", "L4"))
    naming = decode(sequence(shifted, strength=0.5), CFG, AASCE_LEVELS)
    assert naming.labels == tuple(shifted) and not naming.uncertain(CFG)


def test_evidence_split_between_two_shifts_is_uncertain_with_the_shift_as_runner_up():
    from detector.levels.decode import describe_runner_up

    shifted = level_range("C7", "L4")
    logp = np.full((17, len(CLASSES)), np.log(0.1 / (len(CLASSES) - 2)))
    for i, (a, b) in enumerate(zip(AASCE_LEVELS, shifted)):
        logp[i, CLASSES.index(a)] = logp[i, CLASSES.index(b)] = np.log(0.45)
    naming = decode(logp, CFG, AASCE_LEVELS)
    assert naming.labels == AASCE_LEVELS and naming.uncertain(CFG)
    assert naming.runner_up == shifted and shift_between(naming.labels, naming.runner_up) == -1
    assert "one higher" in describe_runner_up(naming)


def test_margin_is_the_gap_to_the_best_other_naming():
    weak = sequence(list(AASCE_LEVELS), strength=0.3)
    strong = sequence(list(AASCE_LEVELS), strength=0.95)
    assert decode(weak, CFG, AASCE_LEVELS).margin < decode(strong, CFG, AASCE_LEVELS).margin


def test_decode_rejects_a_wrong_shape():
    with pytest.raises(ValueError, match="logp must be"):
        decode(np.zeros((3, 5)), CFG, AASCE_LEVELS)


def chain(levels, top=100.0, pitch=40.0):
    return Spine(tuple(Vertebra(name, Box(100, top + k * pitch, 150, top + k * pitch + 30), score=0.9)
                       for k, name in enumerate(levels)))


def test_decode_settings_change_the_named_costs_only_and_reject_unknown_keys():
    from detector.levels.training.evaluate import decode_settings

    base = DecodeConfig(temperature=0.9)
    changed = decode_settings(base, ["missing_cost=8", "max_missing=3"])
    assert changed == DecodeConfig(missing_cost=8.0, max_missing=3, temperature=0.9)
    assert isinstance(changed.max_missing, int)
    for bad in (["temperature=2"], ["missing_cost"], ["nonsense=1"], ["max_missing=2.5"], ["none_cost=high"]):
        with pytest.raises(SystemExit):
            decode_settings(base, bad)


def test_calibration_films_are_the_patients_training_set_aside(tmp_path):
    from types import SimpleNamespace

    from detector.levels.training.config import held_out
    from detector.levels.training.evaluate import calibration_films
    from detector.levels.training.train import split_calibration

    (tmp_path / "config.yaml").write_text("calibration_fraction: 0.3\n")
    films = [SimpleNamespace(patient=f"p{k}") for k in range(60)]
    aside = calibration_films(films, tmp_path)
    assert 5 < len(aside) < 35 and all(held_out(f.patient, 0.3) for f in aside)
    samples = [SimpleNamespace(patient=f.patient) for f in films]
    assert [s.patient for s in split_calibration(samples, 0.3)[1]] == [f.patient for f in aside]


def test_labels_by_pairing_and_by_anatomy_beyond_the_annotated_run():
    from detector.levels.training.data import UNKNOWN, member_labels

    truth = chain(AASCE_LEVELS, top=140.0)
    found = chain([None] * 19, top=100.0)  # one member above T1, one below L5
    labels = [CLASSES[i] if i != UNKNOWN else None for i in member_labels(found, truth)]
    assert labels == ["C7", *AASCE_LEVELS, "S1"]
    unnamed = Spine(tuple(v.with_(level=None) for v in truth.vertebrae))
    assert (member_labels(found, unnamed) == UNKNOWN).all()


def test_unpaired_member_inside_the_run_is_none_or_its_free_place():
    from detector.levels.training.data import member_labels

    truth = chain(AASCE_LEVELS)
    gap = Spine(tuple(v for k, v in enumerate(truth.vertebrae) if k != 5))
    duplicate = list(truth.vertebrae)
    duplicate.insert(6, Vertebra(None, Box(400, 300, 450, 330)))  # off the column: pairs with nothing
    labels = member_labels(Spine(tuple(duplicate)), truth)
    assert CLASSES[labels[6]] == "none"
    moved = list(truth.vertebrae)
    moved[5] = moved[5].with_(box=Box(400, 300, 450, 330))
    assert CLASSES[member_labels(Spine(tuple(moved)), truth)[5]] == "T6"
    assert len(member_labels(gap, truth)) == 16


def test_apply_naming_drops_none_and_inserts_skipped_levels():
    from detector.levels.predict import apply_naming

    names = [n for n in AASCE_LEVELS if n != "T5"]
    members = chain([None] * 17)
    logp = sequence([*names[:8], None, *names[8:]])
    naming = decode(logp, CFG, AASCE_LEVELS)
    spine = apply_naming(members, naming)
    assert spine.levels == AASCE_LEVELS
    t5 = spine.get("T5")
    assert t5.inferred and t5.score == 0.0
    assert spine.get("T4").box.y2 < t5.box.center[1] < spine.get("T6").box.y1
    assert spine.get("T1").level_p[0][0] == "T1" and spine.get("T1").level_p[0][1] > 0.5


def test_candidates_beyond_the_ends_are_kept_only_as_expected_levels():
    from detector.levels.predict import apply_naming, naming_warnings

    members = chain([None] * 18)
    extrapolated = np.array([True] + [False] * 15 + [True, True])  # C7? T1..L3 detected, then two candidates
    logp = sequence(["C7", *AASCE_LEVELS[:15], "L4", "L5"])
    naming = decode(logp, CFG, AASCE_LEVELS, ~extrapolated)
    spine = apply_naming(members, naming, extrapolated, AASCE_LEVELS)
    assert spine.levels == AASCE_LEVELS
    warnings = naming_warnings(naming, extrapolated, spine, CFG)
    assert any("beyond the ends" in w and "L4, L5" in w for w in warnings)
    assert not any("C7" in w for w in warnings)


def test_a_sure_naming_the_count_would_give_otherwise_is_disputed():
    """The identifier names the chain one level lower than its count (the priors' names it arrived with): a
    disputed warning naming an example; agreeing names, or an uncertain naming (already warned), give none."""
    from detector.levels.predict import apply_naming, naming_warnings
    from spine.result import levels_disputed, levels_uncertain

    members = chain([None] * 17)
    extrapolated = np.zeros(17, bool)
    naming = decode(sequence([*AASCE_LEVELS[1:], "S1"]), CFG, level_range("T1", "S1"), ~extrapolated)
    spine = apply_naming(members, naming, extrapolated, level_range("T1", "S1"))
    counted = list(AASCE_LEVELS)
    warnings = naming_warnings(naming, extrapolated, spine, CFG, counted)
    assert levels_disputed(warnings) and not levels_uncertain(warnings)
    assert any("17 of its 17" in w and "T2 as T1" in w for w in warnings)
    assert not levels_disputed(naming_warnings(naming, extrapolated, spine, CFG, [*AASCE_LEVELS[1:], "S1"]))
    assert not levels_disputed(naming_warnings(naming, extrapolated, spine, CFG))  # nothing counted: nothing to dispute
    unsure = decode(np.full((17, len(CLASSES)), np.log(1 / len(CLASSES))), CFG, AASCE_LEVELS, ~extrapolated)
    flat = naming_warnings(unsure, extrapolated, apply_naming(members, unsure, extrapolated, AASCE_LEVELS), CFG, ["C1"] * 17)
    assert levels_uncertain(flat) and not levels_disputed(flat)


def test_level_p_survives_the_json_round_trip():
    from spine.result import vertebra_from_dict, vertebra_to_dict

    v = Vertebra("T1", Box(0, 0, 10, 10), level_p=(("T1", 0.9), ("C7", 0.08)))
    back = vertebra_from_dict(vertebra_to_dict(v))
    assert back.level_p == v.level_p
    assert "level_p" not in vertebra_to_dict(v.with_(level_p=()))


def test_network_gives_one_row_of_logits_per_member():
    import torch

    from detector.levels.chain import FEATURES
    from detector.levels.config import ModelConfig
    from detector.levels.model import build_model

    for sequence_layer in ("gru", "none"):
        model = build_model(ModelConfig(encoder="resnet18", pretrained="none", sequence=sequence_layer))
        valid = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
        out = model(torch.zeros(2, 5, 1, 64, 96), torch.zeros(2, 5, len(FEATURES)), valid)
        assert out.shape == (2, 5, len(CLASSES))
        out.sum().backward()


def test_features_describe_the_chain_not_the_film_scale():
    from detector.levels.chain import FEATURES, member_features
    from detector.levels.training.data import refeature

    boxes = np.array([[100, 100 + 40 * k, 150, 130 + 40 * k] for k in range(10)], float)
    f = member_features(boxes, np.full(10, 0.9), np.zeros(10), np.zeros(10), 1000, False, 14.0, "F")
    g = member_features(boxes * 2, np.full(10, 0.9), np.zeros(10), np.zeros(10), 2000, False, 14.0, "F")
    assert np.allclose(f, g, atol=1e-6)
    assert f[0, FEATURES.index("index_from_top")] == 0 and f[-1, FEATURES.index("index_from_bottom")] == 0
    sub = refeature(f[2:], boxes[2:], 1000)
    assert sub[0, FEATURES.index("index_from_top")] == 0 and sub[0, FEATURES.index("female")] == 1


def test_chain_is_extended_by_candidates_inside_the_film_only():
    from detector.levels.chain import extend_chain

    members = chain([None] * 5, top=50.0, pitch=40.0)  # boxes 50-80, ..., 210-240; centres 65 ... 225
    extended, flags = extend_chain(members, 320, 2)  # above: 25 (-15 is off the film); below: 265, 305
    assert flags.tolist() == [True, False, False, False, False, False, True, True]
    centres = [v.center[1] for v in extended.vertebrae]
    assert np.allclose(np.diff(centres), 40.0) and centres[0] == 25.0 and centres[-1] == 305.0
    assert len(extend_chain(members, 300, 2)[0]) == 7
    assert all(v.inferred and v.score == 0 and v.level is None for v, f in zip(extended.vertebrae, flags) if f)
    assert extend_chain(members, 300, 0)[0] is members


@pytest.mark.slow
def test_one_epoch_of_training_on_phantoms_makes_a_loadable_identifier(tmp_path):
    from detector.levels.predict import LevelIdentifier
    from detector.levels.training.config import LevelsConfig
    from detector.levels.training.train import train
    from pipeline.modelset import DEFAULT_MODELS
    from spine import config as configlib

    cfg = configlib.load(LevelsConfig, "configs/levels.yaml", [
        f"output={tmp_path}", f"cache={tmp_path / 'cache'}", f"detector={DEFAULT_MODELS / 'detector'}", "train.epochs=1",
        "data.use_aasce=false", "data.use_roboflow=false", "data.phantoms=8", f"data.phantom_dir={tmp_path / 'phantoms'}",
        "train.batch=4"])
    result = train(cfg)
    identifier = LevelIdentifier.load(result.folder)
    assert result.metrics["films_named"] >= 1 and 0.05 <= identifier.decode_cfg.temperature <= 10

"""Copies of a film under another name (mirrored, re-contrasted, shrunk) are found, and training leaves them out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from spine.phantom import PhantomSpec, make_phantom
from spine.research.datasets.copies import COPY_SCORE, best_match, fingerprint, verify
from spine.research.datasets.sources import DataConfig, aasce_split, roboflow_annotations


def _film(seed: int) -> np.ndarray:
    return make_phantom(PhantomSpec(view="AP", seed=seed, height_px=640)).image


def _roboflow_copy(pixels: np.ndarray) -> np.ndarray:
    """What the Roboflow export did to a film: mirrored, CLAHE-equalised, re-framed, shrunk to 416 px tall."""
    import cv2

    grey = cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(np.round(pixels * 255).astype(np.uint8))
    grey = grey[20:-30, ::-1]
    return cv2.resize(grey, (round(grey.shape[1] * 416 / grey.shape[0]), 416), interpolation=cv2.INTER_AREA)


def test_a_mirrored_reprocessed_copy_is_found_and_other_films_are_not():
    films = [_film(seed) for seed in (1, 2, 3)]
    plain = [fingerprint(f) for f in films]
    flipped = [fingerprint(f, mirrored=True) for f in films]
    copy = fingerprint(_roboflow_copy(films[1]))
    match = best_match(copy, plain, flipped)
    assert match.reference == 1 and match.mirrored and match.score > 0.8
    # phantoms share one anatomical template, so two of them look more alike than two real films (under 0.1
    # on real films, the realdata test below); a copy still stands far above them
    for other in (0, 2):
        assert max(verify(plain[other], copy), verify(flipped[other], copy)) < match.score - 0.3


def _yolo_film(folder, stem: str) -> None:
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(exist_ok=True)
    Image.new("L", (100, 416)).save(folder / "images" / f"{stem}_jpg.rf.ab12.jpg")
    (folder / "labels" / f"{stem}_jpg.rf.ab12.txt").write_text("0 0.5 0.5 0.2 0.05\n")


def test_training_leaves_out_listed_copies_dropped_families_and_linked_validation_patients(tmp_path):
    root = tmp_path / "data"
    for stem in ("Image_007", "N12--Lt-TAIS--F--12-yrs", "N13--Rt-TAIS--F--13-yrs", "sunhl-1th-01-Jan-2017-1-A-AP", "5"):
        _yolo_film(root / "robo" / "train", stem)
    (tmp_path / "copies.yaml").write_text(
        "families_dropped: {Image_: AASCE films}\n"
        "copies:\n- {roboflow: N13--Rt-TAIS--F--13-yrs, copy_of: x.jpg, side: val, mirrored: true, score: 0.8}\n"
        "aasce_same_film:\n- {films: [a 1.jpg, b 1.jpg], patients: [pa, pb], sides: [train, val], score: 0.9}\n"
        "- {films: [c 1.jpg, d 1.jpg], patients: [pc, pd], sides: [val], score: 0.9}\n")
    (tmp_path / "split.json").write_text(json.dumps({"schema": "patient-split/1", "seed": 0, "val_fraction": 0.5,
                                                     "train_patients": ["pa"], "val_patients": ["pb", "pc", "pd"]}))
    cfg = DataConfig(root=str(root), roboflow="robo", aasce="absent", copies_file=str(tmp_path / "copies.yaml"),
                     split_file=str(tmp_path / "split.json"))
    assert [a.patient for a in roboflow_annotations(cfg, None)] == ["N12"]
    assert aasce_split(cfg).val_patients == {"pc", "pd"}  # pb: one of its films is filed under training patient pa
    assert aasce_split(cfg, linked_out=False).val_patients == {"pb", "pc", "pd"}
    assert len(roboflow_annotations(DataConfig(root=str(root), roboflow="robo", copies_file=None), None)) == 3


@pytest.mark.realdata
def test_the_copies_list_holds_every_challenge_film_and_training_holds_none_of_the_list(shared_data):
    import yaml

    from spine.radiograph import read_radiograph
    from spine.research.datasets.annotation import roboflow_original
    from spine.research.datasets.sources import aasce_annotations
    from spine.research.datasets.yolo import load_yolo

    cfg = DataConfig(root=str(shared_data))
    copies, families = cfg.roboflow_left_out()
    listed = {c["roboflow"]: c for c in yaml.safe_load(cfg.repo_path(cfg.copies_file).read_text())["copies"]}
    assert len({c["copy_of"] for c in listed.values() if c["side"] == "challenge"}) == 98
    trained = roboflow_annotations(cfg, aasce_split(cfg))
    assert trained and not any(roboflow_original(a.image) in copies or roboflow_original(a.image).startswith(families)
                               for a in trained)
    by_name = {roboflow_original(a.image): a.image for a in load_yolo(shared_data / cfg.roboflow)}
    challenge = shared_data / cfg.challenge
    for name in ("Image_001_2ndbatch", "Image_041_2ndbatch"):  # challenge films 1 and 41, mirrored
        film = read_radiograph(challenge / f"01-July-2019-{name[6:9].lstrip('0')}.jpg").pixels
        assert verify(fingerprint(film, mirrored=True), fingerprint(read_radiograph(by_name[name]).pixels)) > 0.5
    aasce = aasce_annotations(cfg, "keep")[::12]
    prints = [fingerprint(read_radiograph(a.image).pixels) for a in aasce]
    thumbs = np.stack([p.thumb for p in prints])
    same_patient = np.array([[a.patient == b.patient for b in aasce] for a in aasce])
    similarity = np.where(same_patient, -np.inf, thumbs @ thumbs.T)
    i, j = np.unravel_index(np.argmax(similarity), similarity.shape)  # two patients' most alike films in the sample
    assert verify(prints[i], prints[j]) < COPY_SCORE
    split = aasce_split(cfg)
    for pair in cfg.linked_patients():
        assert not (set(pair) & split.val_patients and set(pair) & split.train_patients)

"""Dataset adapters into canonical annotations, patient keys and patient-level splits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from spine.geometry import AASCE_LEVELS, Spine
from spine.phantom import PhantomSpec, make_phantom, write_phantom
from spine.research.datasets import (
    aasce_patient,
    check_corners,
    load_aasce,
    load_angles,
    load_phantom_folder,
    load_seed,
    load_split,
    load_yolo,
    make_split,
    repair_corners,
    roboflow_patient,
    save_split,
)
from spine.research.datasets.annotation import Annotation


def test_patient_keys():
    assert aasce_patient("sunhl-1th-02-Jan-2017-162 A AP.jpg") == "sunhl-1th-02-Jan-2017-162"
    assert aasce_patient("sunhl-1th-22-Nov-2016-142 A AP (2).jpg") == "sunhl-1th-22-Nov-2016-142"
    assert aasce_patient("sunhl-1th-30-Dec-2016-159 A AP2.jpg") == "sunhl-1th-30-Dec-2016-159"
    assert aasce_patient("sunhl-1th-20-Jul-2016-coronal13.jpg") == "sunhl-1th-20-Jul-2016-coronal"
    assert roboflow_patient("sunhl-1th-02-Jan-2017-162-A-AP_jpg.rf.0123abcd.jpg") == "sunhl-1th-02-Jan-2017-162"
    assert roboflow_patient("17_jpg.rf.fe6c90a8.jpg") == "challenge-17"
    assert roboflow_patient("N126--Rt-TAIS--F--13-Yrs_JPG.rf.1a2b.jpg") == "N126"
    assert roboflow_patient("Image_004_2ndbatch_png.rf.1a2b.jpg") == "Image_004_2ndbatch"


def _ladder(n: int = 17) -> np.ndarray:
    y = np.arange(n)[:, None] * 30.0
    return np.stack([np.hstack([np.zeros((n, 1)) + 10, y]), np.hstack([np.zeros((n, 1)) + 50, y]),
                     np.hstack([np.zeros((n, 1)) + 10, y + 20]), np.hstack([np.zeros((n, 1)) + 50, y + 20])], axis=1)


def test_sanity_check_flags_and_repairs():
    good = _ladder()
    assert check_corners(good) == ()
    swapped = good.copy()
    swapped[4] = swapped[4][[2, 3, 0, 1]]  # superior and inferior swapped
    swapped[6] = swapped[6][[1, 0, 3, 2]]  # left and right swapped
    assert set(check_corners(swapped)) == {"swapped_endplates", "swapped_sides"}
    assert np.allclose(repair_corners(swapped), good)
    misplaced = good.copy()
    misplaced[-1] -= [0, 600]  # the last vertebra's points at the top of the spine
    assert "order" in check_corners(misplaced)
    shifted = good.copy()
    shifted[5:, :, 1] -= 22  # points shifted by an endplate from vertebra 6 down
    assert "overlap" in check_corners(shifted)


def test_yolo_adapter_sorts_and_reads_polygons(tmp_path):
    (tmp_path / "train" / "images").mkdir(parents=True)
    (tmp_path / "train" / "labels").mkdir()
    Image.new("L", (200, 400)).save(tmp_path / "train" / "images" / "Image_001_jpg.rf.ab12.jpg")
    (tmp_path / "train" / "labels" / "Image_001_jpg.rf.ab12.txt").write_text(
        "0 0.5 0.75 0.2 0.05\n0 0.5 0.25 0.2 0.05\n0 0.4 0.5 0.5 0.5 0.6 0.55 0.4 0.55 0.45 0.52\n")
    (ann,) = load_yolo(tmp_path)
    boxes = [v.box.as_list() for v in ann.spine.vertebrae]
    assert np.allclose(boxes[0], [80, 90, 120, 110]) and np.allclose(boxes[1], [80, 200, 120, 220])
    assert np.allclose(boxes[2], [80, 290, 120, 310])
    assert ann.patient == "Image_001" and not ann.boxes_tight and all(v.level is None for v in ann.spine.vertebrae)


def test_seed_folder_and_phantom_folder(tmp_path):
    spec = PhantomSpec(view="AP", seed=4, height_px=640)
    phantom = make_phantom(spec)
    write_phantom(phantom, tmp_path, "case1", fmt="dcm", seed_layout=True)
    (seed,) = load_seed(tmp_path, levels=phantom.spine.levels)
    assert seed.source == "seed" and len(seed.spine) == len(phantom.spine)
    assert seed.spine.spacing_mm == pytest.approx(phantom.spine.spacing_mm)
    err = np.linalg.norm(seed.spine.corners_array() - phantom.spine.corners_array(), axis=2)
    assert np.median(err) < 2.5
    (truth,) = load_phantom_folder(tmp_path)
    assert truth.spine.levels == phantom.spine.levels and truth.spine.vertebrae[0].mask is not None


def test_patient_split_never_straddles_and_is_saved_once(tmp_path):
    spine = Spine(())
    anns = [Annotation(f"{p}_{k}.jpg", p, "aasce", spine, 10, 10) for p in "abcdefghijklmnopqrst" for k in range(3)]
    split = make_split([a.patient for a in anns], 0.2, seed=3)
    train, val = split.apply(anns)
    assert len(train) + len(val) == len(anns) and {a.patient for a in train}.isdisjoint({a.patient for a in val})
    assert len(split.val_patients) == 4
    save_split(split, tmp_path / "s.json")
    assert load_split(tmp_path / "s.json") == split
    assert make_split([a.patient for a in anns], 0.2, seed=4) != split


@pytest.mark.realdata
def test_real_aasce_loads_with_17_levels(aasce_root):
    films = load_aasce(aasce_root, "keep")
    assert len(films) == 481
    assert all(a.spine.levels == AASCE_LEVELS for a in films)
    flagged = [a for a in films if a.flags]
    assert len(flagged) == 29
    repaired = load_aasce(aasce_root, "repair")
    assert len(repaired) == 454 and all(not set(a.flags) - {"swapped_endplates", "swapped_sides"} for a in repaired)
    assert all(check_corners(a.spine.corners_array()) == () for a in repaired)
    assert len(load_angles(aasce_root)) == 481


@pytest.mark.realdata
def test_saved_aasce_split_is_by_patient(aasce_root):
    from spine.research.datasets.sources import DataConfig, aasce_split

    split = aasce_split(DataConfig(), linked_out=False)
    train, val = split.apply(load_aasce(aasce_root, "keep"))
    assert len(train) + len(val) == 481 and {a.patient for a in train}.isdisjoint({a.patient for a in val})
    linked_out = aasce_split(DataConfig())
    assert linked_out.train_patients == split.train_patients and linked_out.val_patients < split.val_patients


@pytest.mark.realdata
def test_roboflow_and_challenge_sets(shared_data):
    from spine.research.datasets.sources import DataConfig, aasce_split, challenge_annotations, roboflow_annotations

    cfg = DataConfig(root=str(shared_data))
    challenge = challenge_annotations(cfg)
    assert len(challenge) == 98 and all(a.patient.startswith("challenge-") for a in challenge)
    assert all(len(a.spine) >= 11 for a in challenge)
    train = roboflow_annotations(cfg, aasce_split(cfg))
    assert train and not any(a.patient.startswith(("challenge-", "sunhl")) for a in train)


def test_every_fourth_phantom_of_each_view_is_a_full_length_film():
    """The phantom sets hold uncropped (skull to femurs) films of both views, not only spine-field ones."""
    from spine.research.datasets.sources import phantom_stem

    both = [phantom_stem(("AP", "LAT"), i) for i in range(16)]
    assert [(v, f) for v, f, _ in both if f == "full"] == [("AP", "full"), ("LAT", "full"), ("AP", "full"), ("LAT", "full")]
    assert both[6][2] == "phantom_ap_full_00006" and both[0][2] == "phantom_ap_00000"
    assert [f for _, f, _ in (phantom_stem(("AP",), i, 100) for i in range(8))].count("full") == 2
    assert phantom_stem(("AP",), 3, 100)[2] == "phantom_ap_full_00103"

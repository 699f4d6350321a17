"""Synthetic phantoms: deterministic, complete ground truth, readable files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from spine.phantom import PhantomSpec, make_phantom, write_phantom
from spine.radiograph import read_radiograph


def test_deterministic_by_seed():
    a = make_phantom(PhantomSpec(seed=5, height_px=512))
    b = make_phantom(PhantomSpec(seed=5, height_px=512))
    c = make_phantom(PhantomSpec(seed=6, height_px=512))
    assert np.array_equal(a.image, b.image) and not np.array_equal(a.image, c.image)


def test_ground_truth_is_complete(ap_phantom, lat_phantom):
    for ph in (ap_phantom, lat_phantom):
        assert ph.image.dtype == np.float32 and 0 <= ph.image.min() and ph.image.max() <= 1
        assert len(np.unique(ph.labels)) - 1 == len(ph.spine)
        assert all(v.mask is not None and v.corners is not None for v in ph.spine.vertebrae)
        assert ph.occluder.any()
        # occluders cover part of some vertebrae: there is a hidden part to segment
        assert (ph.occluder & (ph.labels > 0)).sum() > 0.02 * (ph.labels > 0).sum()
    assert ap_phantom.spine.levels[0] == "T1" and ap_phantom.spine.levels[-1] == "L5"
    assert lat_phantom.spine.levels[-1] == "S1" and lat_phantom.spine.anterior == "left"
    assert lat_phantom.truth["slip_percent"] == {"L4-L5": 30.0}


def test_full_length_film_has_more_than_the_spine():
    ph = make_phantom(PhantomSpec(seed=3, field="full", height_px=900))
    rows = np.nonzero((ph.labels > 0).any(axis=1))[0]
    assert rows.min() > 0.2 * 900 and rows.max() < 0.85 * 900


def test_written_files_read_back(tmp_path, ap_phantom):
    film = write_phantom(ap_phantom, tmp_path, "p", fmt="dcm", seed_layout=True)
    read = read_radiograph(film)
    assert read.spacing_mm == pytest.approx(ap_phantom.spine.spacing_mm, rel=1e-5)
    assert read.sex == ap_phantom.sex and read.age == int(ap_phantom.age) and read.view == "AP"
    assert np.abs(read.pixels - ap_phantom.image).max() < 1e-3
    labels = np.asarray(Image.open(tmp_path / "p_labels.png"))
    assert np.array_equal(labels, ap_phantom.labels)
    truth = json.loads((tmp_path / "p.json").read_text())
    assert truth["schema"] == "spine-geometry/1" and "ground_truth" in truth
    assert (tmp_path / "p_mask.png").exists() and (tmp_path / "p_occluders.png").exists()

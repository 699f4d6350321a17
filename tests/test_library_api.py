"""``from pipeline import measure_film``: one film measured from a path, the file's bytes or an array, the same
geometry each way; a film that is not one gets one clear error."""

from __future__ import annotations

import numpy as np
import pytest

from spine.phantom import sample_film
from spine.radiograph import RadiographError, read_radiograph


def test_a_film_is_measured_from_a_path_its_bytes_or_an_array(tmp_path, shipped_models):
    from pipeline import measure_film

    film = sample_film(tmp_path, "AP", seed=3)
    by_path = measure_film(film, shipped_models)
    by_bytes = measure_film(film.read_bytes(), shipped_models)
    pixels = read_radiograph(film).pixels
    by_array = measure_film((pixels * 65535).astype(np.uint16), shipped_models, view="AP",
                            spacing_mm=by_path.image.spacing_mm)
    assert len(by_path.spine) >= 15 and by_path.measurements["units"] == "mm"
    for other in (by_bytes, by_array):
        assert [v.level for v in other.spine.vertebrae] == [v.level for v in by_path.spine.vertebrae]
        assert other.measurements["cobb"][0]["angle_deg"] == pytest.approx(by_path.measurements["cobb"][0]["angle_deg"], abs=0.2)
    assert by_bytes.image.path == "<bytes>" and by_array.image.spacing_source == "given"
    assert measure_film(pixels, shipped_models).measurements["units"] == "px"  # no spacing given: pixels


def test_what_is_not_a_film_is_refused_in_one_line(shipped_models):
    from pipeline import measure_film

    with pytest.raises(RadiographError, match="not"):
        measure_film(b"%PDF-1.4 not a film at all", shipped_models)
    with pytest.raises(ValueError, match="grey"):
        measure_film(np.zeros((64, 64, 3)), shipped_models)

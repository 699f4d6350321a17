"""Shared fixtures: where the real data is (tests that need it skip cleanly without it), phantoms, and model sets
loaded once per test run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("SPINE_CACHE_DIR", str(ROOT / ".pytest-cache-dir"))

from spine.offline import configure  # noqa: E402

configure()  # offline switches before anything imports ultralytics

pytest_plugins = ["helpers.hardening", "helpers.review"]  # the hardening tests' `models` and `film`; the review tests' `results`, `client`


@pytest.fixture(scope="session", autouse=True)
def model_sets_load_once():
    """Every model set folder is loaded once per test run, keyed by its content and device: the command tests run
    the real commands (``pipeline.infer``'s ``main``) without loading the same set again for each; a folder that
    changed between runs is loaded afresh. A folder that cannot be loaded raises as it would (not cached)."""
    import pipeline.core
    import pipeline.infer
    from spine.modelfolder import folder_digest
    from spine.paths import DEFAULT_MODELS

    real, cache = pipeline.core.load_models, {}

    def load_models(folder, device):
        try:
            key = (str(Path(folder or DEFAULT_MODELS).resolve()), folder_digest(Path(folder or DEFAULT_MODELS)), device)
        except OSError:
            return real(folder, device)
        if key not in cache:
            cache[key] = real(folder, device)
        return cache[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline.core, "load_models", load_models)
        patch.setattr(pipeline.infer, "load_models", load_models)
        yield


@pytest.fixture(scope="session")
def shipped_models(model_sets_load_once):
    """The shipped model set (models/default), loaded once for every test that reads it."""
    import pipeline.core

    return pipeline.core.load_models(None, "cpu")


def data_root() -> Path | None:
    """$SPINE_DATA, else ../shared/data beside the checkout; None when absent."""
    candidates = [os.environ.get("SPINE_DATA"), ROOT.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = data_root()
    if root is None:
        pytest.skip("real data not available (set SPINE_DATA or provide ../shared/data)")
    return root


@pytest.fixture(scope="session")
def aasce_root(shared_data: Path) -> Path:
    path = shared_data / "aasce2019_boostnet" / "boostnet_labeldata"
    if not path.is_dir():
        pytest.skip(f"{path} not available")
    return path


@pytest.fixture(scope="session")
def ap_phantom():
    from spine.phantom import PhantomSpec, make_phantom

    return make_phantom(PhantomSpec(view="AP", seed=11, cobb_deg=35, height_px=768))


@pytest.fixture(scope="session")
def lat_phantom():
    from spine.phantom import PhantomSpec, make_phantom

    return make_phantom(PhantomSpec(view="LAT", seed=12, height_px=768, wedges={"L1": 0.3}, slips={"L4": 30.0}))

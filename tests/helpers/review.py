"""The review tests' results folder and API client (test_review, test_review_browser): two phantoms measured from
their true geometry and a film that failed, copied afresh for each test."""

from __future__ import annotations

import shutil
import socket

import pytest

from spine.phantom import sample_film

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder: a phantom measured from its true geometry (a stand-in for a pipeline.infer result), a
    film that failed, and a second phantom of the same patient to compare."""
    from spine.remeasure import measure_result
    from spine.result import read_result, write_result
    from spine.summary import FIELDS, Summary, other_row, result_row

    root = tmp_path_factory.mktemp("review")
    films, out = root / "films", root / "out"
    out.mkdir()
    with Summary(out, FIELDS) as summary:
        for name, seed in (("first", 3), ("second", 4)):
            film = sample_film(films / name, "AP", seed=seed)
            result = measure_result(read_result(film.with_suffix(".json")))
            result = result.with_(image=result.image.__class__(**{**result.image.__dict__, "path": str(film)}))
            write_result(result, out / f"{name}.json")
            summary.write(result_row(film, result, name))
        broken = films / "broken.dcm"
        shutil.copy(films / "first" / "sample_ap.dcm", broken)
        summary.write(other_row(broken, "error", f"{broken}: failed (no spine)", "broken"))
    return out


@pytest.fixture()
def client(results, tmp_path):
    from fastapi.testclient import TestClient

    from pipeline.review.app import create_app
    from pipeline.review.store import ResultsFolder

    folder = tmp_path / "out"
    shutil.copytree(results, folder)
    return TestClient(create_app(ResultsFolder(folder), TOKEN)), folder


def auth(**extra):
    return {"headers": {"Authorization": f"Bearer {TOKEN}"}, **extra}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]

"""Fixtures and helpers shared by the hardening tests (test_hardening, test_hardening_runs): a random model set and a
sample film per test module, and the rows of a run's summary.csv."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from helpers.models import random_model_set
from spine.phantom import sample_film


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return random_model_set(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def film(tmp_path_factory):
    return sample_film(tmp_path_factory.mktemp("film"), "AP", seed=2)


def summary_rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))

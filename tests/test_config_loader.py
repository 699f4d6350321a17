"""Config loading: unknown keys and wrong types fail with a message; --set and override files merge."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from spine.config import ConfigError, build, dump, load, load_part, merge, parse_sets, read_yaml


@dataclass(frozen=True)
class Inner:
    size: int = 64
    kind: Literal["a", "b"] = "a"

    def validate(self) -> None:
        if self.size % 32:
            raise ConfigError(f"inner.size={self.size} must be a multiple of 32; use {32 * round(self.size / 32) or 32}")


@dataclass(frozen=True)
class Outer:
    name: str = "x"
    rate: float = 0.1
    levels: tuple[str, ...] = ("T1",)
    inner: Inner = field(default_factory=Inner)
    note: str | None = None


def test_build_and_types():
    cfg = build(Outer, {"rate": 1, "levels": ["T1", "L5"], "inner": {"size": 96}})
    assert cfg.rate == 1.0 and isinstance(cfg.rate, float) and cfg.levels == ("T1", "L5") and cfg.inner.size == 96


@pytest.mark.parametrize("data,message", [
    ({"nme": "typo"}, "unknown key"),
    ({"inner": {"sise": 64}}, "inner: unknown key"),
    ({"rate": "fast"}, "rate: expected float"),
    ({"inner": {"kind": "c"}}, "use one of"),
    ({"inner": {"size": 100}}, "multiple of 32; use 96"),
    ({"levels": "T1"}, "expected a list"),
])
def test_bad_values_fail_with_a_message(data, message):
    with pytest.raises(ConfigError, match=message):
        build(Outer, data)


def test_sets_and_override_files(tmp_path):
    base = tmp_path / "base.yaml"
    base.write_text("name: base\ninner:\n  size: 64\n")
    cfg = load(Outer, base, overrides=["inner.size=128", "note=hello"], extra={"rate": 0.5})
    assert (cfg.name, cfg.rate, cfg.inner.size, cfg.note) == ("base", 0.5, 128, "hello")
    assert parse_sets(["a.b=1", "c=[1, 2]"]) == {"a": {"b": 1}, "c": [1, 2]}
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}
    with pytest.raises(ConfigError, match="key=value"):
        parse_sets(["oops"])


def test_dump_round_trip(tmp_path):
    cfg = build(Outer, {"levels": ["T1", "T2"]})
    dump(cfg, tmp_path / "c.yaml")
    assert build(Outer, read_yaml(tmp_path / "c.yaml")) == cfg


@dataclass(frozen=True)
class Part:
    inner: Inner = field(default_factory=Inner)
    note: str | None = None


def test_prediction_reads_its_part_of_a_config_training_wrote(tmp_path):
    """``load_part``: the top-level keys the part lacks are left out; inside the part unknown keys still fail."""
    written = tmp_path / "config.yaml"
    dump(build(Outer, {"name": "trained", "inner": {"size": 96}, "note": "n"}), written)
    assert load_part(Part, written) == Part(Inner(96), "n")
    written.write_text("name: trained\ninner: {size: 64, colour: red}\n")
    with pytest.raises(ConfigError, match="colour"):
        load_part(Part, written)

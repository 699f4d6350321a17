"""YAML configs validated into dataclasses: unknown keys and wrong types fail at load time.

A config file is a nested mapping whose shape mirrors a dataclass tree.
``--set a.b=value`` overrides one key (value parsed as YAML). An override
file (an ablation) holds only the keys it changes and is merged over the base.
Each dataclass may define ``validate(self)`` for cross-field checks; it raises
:class:`ConfigError` with a message saying how to fix the value.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, Sequence, TypeVar

import yaml

from spine.files import atomic_write_text

T = TypeVar("T")


class ConfigError(ValueError):
    """A config that cannot be used, with the key path and how to fix it."""


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config must be a mapping of keys to values, got {type(data).__name__}")
    return data


def merge(base: dict, override: dict) -> dict:
    """Deep merge: mappings merge key by key, anything else in ``override`` replaces."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def parse_sets(items: Sequence[str]) -> dict:
    """['a.b=1', 'c=x'] -> {'a': {'b': 1}, 'c': 'x'}; values parsed as YAML."""
    out: dict = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected key=value, e.g. train.epochs=5")
        key, raw = item.split("=", 1)
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else ""
    return out


def _check(value: Any, hint: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not allowed; use one of {', '.join(map(repr, args))}")
        return value
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_check(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and isinstance(value, hint) and not (hint is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def build(cls: type[T], data: dict | None, where: str = "config") -> T:
    """Instantiate dataclass ``cls`` from a mapping, recursively; unknown keys are an error."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping for {cls.__name__}, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known keys: {', '.join(sorted(fields))}")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _check(value, hints[name], f"{where}.{name}") for name, value in data.items()}
    instance = cls(**kwargs)
    if hasattr(instance, "validate"):
        instance.validate()
    return instance


def load(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = (), extra: dict | None = None) -> T:
    """Config of type ``cls`` from a YAML file, merged with ``extra`` (an override file) and ``--set`` items."""
    data = read_yaml(path) if path else {}
    if extra:
        data = merge(data, extra)
    data = merge(data, parse_sets(overrides))
    return build(cls, data, str(path) if path else cls.__name__)


def load_part(cls: type[T], path: str | Path) -> T:
    """The part of the config file ``path`` that ``cls`` declares: top-level keys ``cls`` lacks are left out (what
    prediction reads of the config training wrote into a model folder); inside the part, unknown keys still fail."""
    data = read_yaml(path)
    names = {f.name for f in dataclasses.fields(cls)}
    return build(cls, {key: value for key, value in data.items() if key in names}, str(path))


def to_dict(config: Any) -> dict:
    """Plain nested dict of a config (tuples as lists), ready for YAML or JSON."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return plain(dataclasses.asdict(config))


def dump(config: Any, path: str | Path) -> Path:
    return atomic_write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))

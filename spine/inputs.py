"""What a batch run reads, and the names its outputs get.

Inputs are files, folders (searched recursively, following links, each real file once, link loops detected) and
globs. A file counts as a film by its content, never its name: the DICOM preamble (so the extensionless files of
PACS exports and DICOMDIR trees are found) or an image's magic number. Every input gets an output stem no other
input of the run shares: its path relative to the inputs' common folder, made safe for any file system.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from spine.radiograph import sniff

SKIPPED_NAMES = {"DICOMDIR"}  # the index of a DICOM media tree, not a film


class NothingToDo(ValueError):
    """No input names a file that could be a film."""


def _walk(folder: Path) -> Iterable[Path]:
    """Files under ``folder``, links followed, each directory entered once (loops by device and inode)."""
    seen: set[tuple[int, int]] = set()
    for root, dirs, files in os.walk(folder, followlinks=True):
        try:
            info = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen:
            dirs[:] = []
            continue
        seen.add(key)
        dirs.sort()
        for name in sorted(files):
            if not name.startswith(".") and name not in SKIPPED_NAMES:
                yield Path(root) / name


def _magic(part: str) -> bool:
    return any(ch in part for ch in "*?[")


def _glob(pattern: str) -> list[Path]:
    """Files matching ``pattern``; '**' (any folders, none included) is matched on a loop-safe walk of the folder
    before the first wildcard, never by the standard glob, which follows link loops without end."""
    if "**" not in pattern:
        return [Path(p) for p in sorted(glob.glob(pattern))]
    parts = Path(pattern).parts
    cut = next(k for k, part in enumerate(parts) if _magic(part))
    base = Path(*parts[:cut]) if cut else Path(".")
    variants = {pattern, pattern.replace("**" + os.sep, "")}
    return [f for f in _walk(base) if any(fnmatch.fnmatch(str(f), v) for v in variants)]


def _candidates(item: str) -> tuple[list[Path], bool]:
    """(files, from a folder or glob: True, so non-films are skipped quietly rather than reported)."""
    path = Path(item)
    if path.is_dir():
        return list(_walk(path)), True
    if _magic(item):
        found = []
        for match in _glob(item):
            found += list(_walk(match)) if match.is_dir() else [match]
        return found, True
    return [path], False


@dataclass
class Inputs:
    """What a run found: the films, in the given order, and the files of its folders and globs that are not films,
    each with the reason (``(path, reason)``)."""

    films: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)


def _not_a_film(file: Path) -> str | None:
    """Why a file found in a folder is not taken as a film, or None when it may be one."""
    try:
        if not os.path.isfile(file):
            return "not a regular file"
        if os.path.getsize(file) == 0:
            return "empty file"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    return None if sniff(file) is not None else "not a film (neither DICOM nor an image)"


def _inside(path: Path, folders: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == f or real.startswith(f + os.sep) for f in folders)


def scan_inputs(items: Iterable[str], exclude: Iterable[str | Path] = ()) -> Inputs:
    """The films named by files, folders and globs, each real file once. A file named directly is kept whatever it
    holds (reading it says what is wrong); inside folders and globs only files whose content looks like a DICOM
    object or an image are taken, the others listed as skipped with the reason. Files under ``exclude`` (the run's
    own output folders) are left out, so a run never measures its own overlays. Raises :class:`NothingToDo` when no
    film is left."""
    found, seen = Inputs(), set()
    excluded = [os.path.realpath(f) for f in exclude]
    items = list(items)
    for item in items:
        files, searched = _candidates(item)
        for file in files:
            real = os.path.realpath(file)
            if real in seen or (searched and _inside(file, excluded)):
                continue
            seen.add(real)
            reason = _not_a_film(file) if searched else None
            if reason:
                found.skipped.append((file, reason))
            else:
                found.films.append(file)
    if not found.films:
        raise NothingToDo(f"nothing to process: no film (DICOM or image file) found in {', '.join(map(printable, items)) or 'no input'}")
    return found


def expand_inputs(items: Iterable[str], exclude: Iterable[str | Path] = ()) -> list[Path]:
    """The films of :func:`scan_inputs`."""
    return scan_inputs(items, exclude).films


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def printable(path: str | Path) -> str:
    """A path as text that any terminal, log or CSV line can hold: undecodable bytes of a file name and control
    characters (a newline in a name) escaped, so one film is always one line."""
    text = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", printable(part)).strip("._") or "film"


def output_stems(paths: list[Path]) -> dict[Path, str]:
    """A unique, file-system-safe output stem per input: its path below the inputs' common folder without the
    suffix, folders joined by '__' ('a/sub/film.png' -> 'a__sub__film'); the suffix is added where two inputs would
    still collide ('film.png', 'film.jpg' -> 'film_png', 'film_jpg'), then a counter."""
    absolute = [Path(os.path.abspath(p)) for p in paths]
    root = Path(os.path.commonpath([str(p.parent) for p in absolute])) if absolute else Path(".")
    stems = {p: "__".join(_safe(part) for part in a.relative_to(root).with_suffix("").parts) for p, a in zip(paths, absolute)}
    counts: dict[str, int] = {}
    for stem in stems.values():
        counts[stem] = counts.get(stem, 0) + 1
    stems = {p: (f"{s}_{_safe(p.suffix.lstrip('.'))}" if counts[s] > 1 and p.suffix else s) for p, s in stems.items()}
    out, taken = {}, set()
    for p in paths:
        stem, k = stems[p], 1
        while stem in taken:
            k += 1
            stem = f"{stems[p]}_{k}"
        taken.add(stem)
        out[p] = stem
    return out

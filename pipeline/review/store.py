"""The folder of ``pipeline.infer`` results the review app serves: listing, reading, re-measuring and saving.

Only what the folder holds is ever served or written: a film is named by its *stem*, which must be one the
listing found (a result ``<stem>.json`` or a row of ``summary.csv``), never a path from the request. Saving a
correction writes ``<stem>.json`` atomically, keeps the automatic result beside it as ``<stem>.auto.json`` the
first time, marks the vertebrae whose corners or level differ from the automatic result ``edited``, and renders
the overlay and the summary row again. A save un-verifies; *verifying* saves with the reader's name and time and the
warnings settled, and (with an :class:`Exporter`) writes the verified DICOM objects and sends them to the PACS.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from spine.dicomnet import Peer, send_files
from spine.files import atomic_write_json
from spine.geometry import Spine
from spine.overlay import write_overlay
from spine.radiograph import read_radiograph
from spine.remeasure import measure_result, verified
from spine.result import (
    SCHEMA,
    ImageInfo,
    ResultError,
    SpineResult,
    from_dict,
    levels_disputed,
    levels_uncertain,
    read_result,
    to_dict,
)
from spine.runfolder import AUTO, reviewed
from spine.summary import FIELDS, Summary, result_row


@dataclass(frozen=True)
class Exporter:
    """Where a verified result's DICOM objects go: ``dicom_out/<stem>/`` (where ``pipeline.infer --dicom-out`` put
    the preliminary ones, which the verified SR then replaces), and the PACS ``send`` names, by C-STORE."""

    dicom_out: Path
    send: Peer | None = None
    aet: str = "SPINE"

    def export(self, result: SpineResult, film: Path, stem: str) -> dict:
        from spine.dicomout import DicomOutputError, write_dicom_outputs

        folder = self.dicom_out / stem
        earlier = sorted((p for p in folder.glob("*_sr.dcm") if "_verified-" not in p.name), key=lambda p: p.stat().st_mtime)
        try:
            written = write_dicom_outputs(result, film, folder, (result.model or {}).get("name", "unknown"),
                                          predecessor=earlier[-1] if earlier else None)
        except (DicomOutputError, ValueError, OSError) as exc:
            return {"written": [], "sent": None, "error": " ".join(str(exc).split())[:300]}
        paths = [written.sr, written.gsps, written.seg]
        sent = send_files(paths, self.send, self.aet) if self.send is not None else None
        return {"written": [p.name for p in paths], "sent": sent, "error": None if sent is not False else
                f"{self.send.aet}@{self.send.host}:{self.send.port} did not take the objects (written, not sent)"}


class NotFound(KeyError):
    """No film of that stem in the folder."""


class Changed(RuntimeError):
    """The result file changed since the reader loaded it: saving would overwrite someone else's work."""


def version_of(path: Path) -> str:
    """The version of a result file as an HTTP entity tag: a hash of its bytes ("none" when there is no file)."""
    import hashlib

    return f'"{hashlib.sha256(path.read_bytes()).hexdigest()[:32]}"' if path.exists() else '"none"'


@dataclass
class ResultsFolder:
    """folder: the results of one ``pipeline.infer`` run (or several); films: where to look for films whose
    result path does not resolve (e.g. results moved from another machine)."""

    folder: Path
    films: Path | None = None
    exporter: Exporter | None = None
    _saving: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _summary_rows(self) -> list[dict]:
        path = self.folder / "summary.csv"
        if not path.exists():
            return []
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            return list(csv.DictReader(handle))

    def _result_paths(self) -> dict[str, Path]:
        out = {}
        for path in sorted(self.folder.glob("*.json")):
            if path.name.endswith(AUTO):
                continue
            try:
                with open(path, encoding="utf-8") as handle:
                    if json.load(handle).get("schema") == SCHEMA:
                        out[path.stem] = path
            except (OSError, ValueError, AttributeError, RecursionError):
                continue
        return out

    def listing(self) -> list[dict]:
        """One entry per film: results first, then the films the run could not measure."""
        entries = [self._entry(stem, path) for stem, path in self._result_paths().items()]
        known = {e["stem"] for e in entries}
        for row in self._summary_rows():
            stem = row.get("stem") or ""
            if row.get("status") == "error" and stem and stem not in known:
                entries.append({"stem": stem, "status": "error", "file": row.get("file", ""), "error": row.get("error", ""),
                                "warnings": [], "corrected": False, "vertebrae": 0, "cobb_major_deg": None})
                known.add(stem)
        return entries

    def _entry(self, stem: str, path: Path) -> dict:
        try:
            result = read_result(path)
        except (OSError, ResultError) as exc:
            return {"stem": stem, "status": "error", "error": f"unreadable result: {exc}", "warnings": [], "corrected": False,
                    "vertebrae": 0, "cobb_major_deg": None, "file": ""}
        major = (result.measurements.get("cobb") or [None])[0]
        return {"stem": stem, "status": "ok" if len(result.spine) else "no spine", "file": result.image.path,
                "view": result.image.view, "vertebrae": len(result.spine), "warnings": list(result.warnings),
                "cobb_major_deg": major["angle_deg"] if major else None,
                "cobb_major_levels": f"{major['upper']}-{major['lower']}" if major else "",
                "corrected": (self.folder / f"{stem}{AUTO}").exists(), "levels_uncertain": levels_uncertain(result.warnings),
                "levels_disputed": levels_disputed(result.warnings),
                "verified": {"by": result.verified.by, "at": result.verified.at} if result.verified else None}

    def _known(self, stem: str) -> dict:
        for entry in self.listing():
            if entry["stem"] == stem:
                return entry
        raise NotFound(stem)

    def document(self, stem: str) -> dict:
        """The result document of ``stem``; for a film the run could not measure, an empty one to place vertebrae in."""
        entry = self._known(stem)
        if entry["status"] != "error":
            return to_dict(read_result(self.folder / f"{stem}.json"))
        film = read_radiograph(self.film_path(stem))
        empty = SpineResult(ImageInfo.from_radiograph(film), Spine((), view=film.view or "AP", spacing_mm=film.spacing_mm), {},
                            ("no automatic result: place the vertebrae by hand",))
        return to_dict(measure_result(empty))

    def versioned_document(self, stem: str) -> tuple[dict, str]:
        """The document of ``stem`` and the version of its file (to send back with a save)."""
        path = self.folder / f"{stem}.json"
        version = version_of(path)
        return self.document(stem), version

    def film_path(self, stem: str) -> Path:
        """Where the film of ``stem`` is: its recorded path (absolute, or relative to the results folder or the working
        folder), else a file of that name under ``films``."""
        entry = self._known(stem)
        recorded = entry.get("file") or ""
        if entry["status"] != "error":
            recorded = read_result(self.folder / f"{stem}.json").image.path or recorded
        candidates = [Path(recorded), self.folder / recorded, Path.cwd() / recorded] if recorded else []
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        if self.films is not None and recorded:
            for root, _, files in os.walk(self.films, followlinks=False):
                if Path(recorded).name in files:
                    return Path(root) / Path(recorded).name
        raise NotFound(f"{stem}: film {recorded!r} not found (give --films)")

    def image_png(self, stem: str, max_side: int = 4096) -> bytes:
        """The film for display: 8-bit grey PNG (the DICOM window applied), long side at most ``max_side``."""
        import cv2


        pixels = read_radiograph(self.film_path(stem)).pixels
        scale = min(1.0, max_side / max(pixels.shape))
        if scale < 1:
            pixels = cv2.resize(pixels, (round(pixels.shape[1] * scale), round(pixels.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        ok, buffer = cv2.imencode(".png", np.round(np.clip(pixels, 0, 1) * 255).astype(np.uint8))
        return buffer.tobytes()

    def _recorded(self, stem: str) -> ImageInfo | None:
        """What the folder itself records of the film of ``stem``: the automatic result's image, else the result's;
        None for a film with no result."""
        for path in (self.folder / f"{stem}{AUTO}", self.folder / f"{stem}.json"):
            if path.exists():
                return read_result(path).image
        return None

    def save(self, stem: str, document: dict, if_match: str | None = None, verified_by: str | None = None) -> tuple[dict, str]:
        """Validate, flag edits, write atomically (keeping the automatic result once), re-render; the saved document
        and its version. ``if_match``: the version the reader loaded; :class:`Changed` when the file is no longer
        it. The film stays the one the folder records: an ``image.path`` in the document is not taken. A save is
        unverified unless ``verified_by`` names the reader who checked it (:func:`spine.remeasure.verified`)."""
        self._known(stem)
        result = measure_result(from_dict(document)).with_(verified=None)
        path, auto = self.folder / f"{stem}.json", self.folder / f"{stem}{AUTO}"
        with self._saving:
            if if_match is not None and if_match != version_of(path):
                raise Changed(f"{stem}: the result changed since it was loaded (another reader or an edit on disk); "
                              "reload it and make the correction again")
            recorded = self._recorded(stem)
            result = result.with_(image=replace(result.image, path=recorded.path if recorded else self._known(stem).get("file", "")))
            if path.exists() and not auto.exists() and not reviewed(json.loads(path.read_text(encoding="utf-8")), self.folder, stem):
                shutil.copyfile(path, auto)  # the automatic result, the baseline edits are flagged against
            if auto.exists():
                result = flag_edits(result, read_result(auto))
            if verified_by is not None:
                result = verified(result, verified_by)
            atomic_write_json(path, to_dict(result))
            version = version_of(path)
        self._render(stem, result)
        return to_dict(result), version

    def verify(self, stem: str, document: dict, reader: str, if_match: str | None = None) -> tuple[dict, str, dict]:
        """Save ``document`` verified by ``reader``; then, with an exporter, its DICOM objects written (and sent):
        the saved document, its version and what became of the export."""
        saved, version = self.save(stem, document, if_match, verified_by=reader)
        if self.exporter is None:
            return saved, version, {"written": [], "sent": None, "error": None}
        return saved, version, self.exporter.export(from_dict(saved), self.film_path(stem), stem)

    def _render(self, stem: str, result: SpineResult) -> None:
        try:
            film = read_radiograph(self.film_path(stem))
        except (NotFound, ValueError, OSError):
            film = None
        if film is not None:
            write_overlay(film, result, self.folder / f"{stem}_overlay.png")
        with Summary(self.folder, FIELDS) as summary:
            summary.replace(stem, result_row(result.image.path, result, stem))


def _same(a, b) -> bool:
    return a.level == b.level and a.corners is not None and b.corners is not None and np.allclose(a.corners, b.corners, atol=1e-6)


def flag_edits(result: SpineResult, auto: SpineResult) -> SpineResult:
    """``result`` with ``edited`` set on every vertebra no vertebra of ``auto`` matches (same level and corners)."""
    vertebrae = tuple(replace(v, edited=not any(_same(v, a) for a in auto.spine.vertebrae)) for v in result.spine.vertebrae)
    return result.with_(spine=result.spine.with_(vertebrae=vertebrae))

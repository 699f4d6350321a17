"""The batch's ``summary.csv``: one row per film, appended and flushed as each film ends, so an interrupted or
crashed run keeps every row it finished. A lock file keeps two runs from writing into one folder at the same
time; a later run appends its rows after the earlier run's (the ``run`` column tells them apart; a summary with
other columns, from another version, is renamed aside first).
"""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone
from pathlib import Path

from spine.files import atomic_write_text
from spine.inputs import printable

FIELDS = ("file", "stem", "status", "error", "view", "vertebrae", "inferred", "units", "cobb_major_deg", "cobb_major_levels",
          "aasce_cobb_deg", "lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg", "warnings", "notes")

LOCK = ".spine-infer.lock"


class FolderBusy(RuntimeError):
    """Another run is writing into the output folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def one_line(text: object) -> str:
    """Any text as one line (tracebacks and multi-line library messages folded)."""
    return " ".join(str(text).split())


class Summary:
    """Open with ``with Summary(folder, fields) as s: s.write(row)``; holds the folder's lock while open."""

    def __init__(self, folder: str | Path, fields: tuple[str, ...]):
        self.folder, self.fields = Path(folder), ("run",) + tuple(fields)
        self.run = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
        self.path, self.lock = self.folder / "summary.csv", self.folder / LOCK
        self._handle = None

    def _take_lock(self) -> None:
        try:
            fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                pid = int(self.lock.read_text().strip() or 0)
            except (OSError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and _alive(pid):
                raise FolderBusy(f"{self.folder}: another run (process {pid}) is writing here; wait for it or choose "
                                 f"another --out (remove {self.lock} if that process is gone)") from None
            self.lock.unlink(missing_ok=True)  # left by a run that died
            fd = os.open(self.lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        with os.fdopen(fd, "w") as handle:
            handle.write(str(os.getpid()))

    def _header_matches(self) -> bool:
        with open(self.path, newline="", encoding="utf-8", errors="replace") as handle:
            return next(csv.reader(handle), None) == list(self.fields)

    def __enter__(self) -> "Summary":
        self._take_lock()
        if self.path.exists() and self.path.stat().st_size and not self._header_matches():
            self.path.replace(self.folder / f"summary.before-{self.run}.csv")  # other columns: kept aside, not mixed
        new = not self.path.exists() or self.path.stat().st_size == 0
        self._handle = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.fields, extrasaction="ignore")
        if new:
            self._writer.writeheader()
            self._handle.flush()
        return self

    def write(self, row: dict) -> None:
        self._writer.writerow({"run": self.run, **{k: one_line(v) if isinstance(v, str) else v for k, v in row.items()}})
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def replace(self, stem: str, row: dict) -> None:
        """Rewrite the summary with the latest row of ``stem`` replaced by ``row`` (appended when it has none)."""
        with open(self.path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        latest = max((k for k, r in enumerate(rows) if r.get("stem") == stem), default=None)
        new = {"run": rows[latest]["run"] if latest is not None else self.run,
               **{k: one_line(v) if isinstance(v, str) else v for k, v in row.items()}}
        if latest is None:
            rows.append(new)
        else:
            rows[latest] = new
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=self.fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
        self._handle.close()
        atomic_write_text(self.path, buffer.getvalue())
        self._handle = open(self.path, "a", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._handle, fieldnames=self.fields, extrasaction="ignore")

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()
        self.lock.unlink(missing_ok=True)


def result_row(path, result, stem: str, anonymise: bool = False) -> dict:
    """A measured film's row: status 'ok', or 'no spine' when nothing was found to measure."""
    m = result.measurements
    major = (m.get("cobb") or [None])[0]
    return {
        "file": printable(Path(path).name if anonymise else path),
        "stem": stem,
        "status": "ok" if len(result.spine) else "no spine",
        "error": "",
        "view": result.image.view,
        "vertebrae": len(result.spine),
        "inferred": sum(v.inferred for v in result.spine.vertebrae),
        "units": m.get("units"),
        "cobb_major_deg": f"{major['angle_deg']:.1f}" if major else "",
        "cobb_major_levels": f"{major['upper']}-{major['lower']}" if major else "",
        "aasce_cobb_deg": " ".join(f"{a:.1f}" for a in m.get("aasce_cobb_deg") or []),
        **{k: (f"{m[k]:.1f}" if m.get(k) is not None else "")
           for k in ("lumbar_lordosis_deg", "thoracic_kyphosis_deg", "sacral_slope_deg")},
        "warnings": " | ".join(result.warnings),
        "notes": " | ".join(result.notes),
    }


def other_row(path, status: str, reason: str, stem: str = "", anonymise: bool = False) -> dict:
    """A row for a film that failed ('error') or a file that was not measured ('skipped'), with the reason."""
    return {"file": printable(Path(path).name if anonymise else path), "stem": stem, "status": status, "error": one_line(reason)}

"""One logging set-up for the command-line tools: our own messages at INFO, the DICOM libraries' chatter held back
(highdicom logs ~16 INFO lines per object it writes; pydicom's value warnings and pynetdicom's association logs
quote the header's values), and every DICOM UID that still reaches a log replaced by a short hash, so that no
patient identifier appears in a log at the default level."""

from __future__ import annotations

import hashlib
import logging
import re

# pydicom logs a decoder's failure with its traceback before raising it; the raised error is what a run reports
QUIET_LIBRARIES = {"highdicom": logging.WARNING, "pynetdicom": logging.WARNING, "pydicom": logging.CRITICAL,
                   "py.warnings": logging.ERROR, "PIL": logging.WARNING}
_UID = re.compile(r"(?<![\w.])\d+(?:\.\d+){3,}(?![\w.])")


def hashed_uid(uid: str) -> str:
    """What a log says instead of a UID: ``uid:`` and the first ten hex digits of its sha1."""
    return "uid:" + hashlib.sha1(uid.encode()).hexdigest()[:10]


def redact(text: str) -> str:
    """``text`` with every dotted-number UID (four or more parts) replaced by :func:`hashed_uid`."""
    return _UID.sub(lambda m: hashed_uid(m.group()), text)


def _redacting(factory):
    def make(*args, **kwargs) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is logging's to report, not ours
            return record
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return record

    make.redacting = True
    return make


def configure(verbose: bool = False, fmt: str = "%(levelname)s %(message)s") -> None:
    """Log to stderr at INFO (DEBUG for our own loggers with ``verbose``); the libraries' loggers at the levels of
    :data:`QUIET_LIBRARIES` (INFO with ``verbose``), Python warnings routed through logging, UIDs hashed."""
    logging.basicConfig(level=logging.INFO, format=fmt)
    logging.captureWarnings(True)
    for name, level in QUIET_LIBRARIES.items():
        logging.getLogger(name).setLevel(logging.INFO if verbose else level)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "redacting", False):  # every record, whatever logger or handler it goes to
        logging.setLogRecordFactory(_redacting(factory))

"""A DICOM node that measures the spine films sent to it and sends the results on.

    python -m pipeline.node --aet SPINE --port 11112 --out DIR [--forward AET@HOST:PORT] [--allow AET ...]
                            [--host 127.0.0.1] [--models DIR] [--device cpu]

A Storage SCP (pynetdicom) with Verification (C-ECHO). It accepts CR, DX (for presentation and for processing)
and secondary-capture images of radiographs; other SOP classes are not negotiated, and a secondary capture of
something else is refused with status A900. Each film is written to ``DIR/incoming`` (fsynced) before the C-STORE
is acknowledged, so a crash never loses a film; a worker measures it (``pipeline.core``: results in
``DIR/results``) and writes its structured report, presentation state and segmentation into ``DIR/outbox``, then
moves the film to ``DIR/done``. At start, films still in ``incoming`` are measured. With ``--forward`` the outbox
is sent by C-STORE to that node, retried with growing delays; what could not be sent stays in the outbox (and is
sent after a restart). The objects' UIDs derive from the film's, so measuring a film again never sends a second
copy; an instance sent again while it waits is stored over the waiting copy and measured once. A lock on ``--out``
refuses a second node there. ``--allow`` limits the calling AE titles. Logs name films by a short hash of their SOP
Instance UID and carry no patient name, ID or UID, the DICOM libraries' included (:mod:`spine.logs`).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import queue
import shutil
import sys
import threading
import time
from pathlib import Path

from pipeline.core import measure_film
from spine.dicomnet import SUCCESS, Peer, send_files
from spine.overlay import write_overlay
from spine.radiograph import RadiographError, radiograph_kind, read_radiograph
from spine.result import write_result

log = logging.getLogger("pipeline.node")

CR, DX_PRESENTATION, DX_PROCESSING = "1.2.840.10008.5.1.4.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1", "1.2.840.10008.5.1.4.1.1.1.1.1"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
ACCEPTED = (CR, DX_PRESENTATION, DX_PROCESSING, SECONDARY_CAPTURE)
OUT_OF_RESOURCES, NOT_THIS_CLASS = 0xA700, 0xA900


def short(uid: str) -> str:
    """A film's name in the logs: no patient data, just enough to follow it."""
    return hashlib.sha1(str(uid).encode()).hexdigest()[:10]


class Folders:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        for name in ("incoming", "done", "failed", "results", "staging", "outbox", "sent"):
            (self.root / name).mkdir(parents=True, exist_ok=True)

    def __getattr__(self, name: str) -> Path:
        return self.root / name


def write_durably(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Node:
    """The node's state: its folders, the models, the work queue and the forwarding peer."""

    def __init__(self, folders: Folders, models, aet: str, forward: Peer | None):
        self.folders, self.models, self.aet, self.forward = folders, models, aet, forward
        self.work: queue.Queue[Path | None] = queue.Queue()
        self.queued: set[Path] = set()  # films waiting: a duplicate sent meanwhile is stored over them, not queued twice
        self.queued_lock = threading.Lock()
        self.wake = threading.Event()
        self.stopping = threading.Event()

    # -- receiving --------------------------------------------------------------------------------------------
    def handle_store(self, event) -> int | tuple:
        ds = event.dataset
        ds.file_meta = event.file_meta
        if ds.SOPClassUID == SECONDARY_CAPTURE and radiograph_kind(ds):
            log.info("refused %s: %s", short(ds.SOPInstanceUID), radiograph_kind(ds))
            return NOT_THIS_CLASS
        path = self.folders.incoming / f"{short(ds.SOPInstanceUID)}.dcm"
        try:
            write_durably(path, _encoded(ds))
        except OSError as exc:
            log.error("cannot store %s: %s", short(ds.SOPInstanceUID), exc.strerror)
            return OUT_OF_RESOURCES
        log.info("received %s from %s", short(ds.SOPInstanceUID), event.assoc.requestor.ae_title)
        self.enqueue(path)
        return SUCCESS

    def enqueue(self, path: Path) -> None:
        with self.queued_lock:
            if path in self.queued:
                return
            self.queued.add(path)
        self.work.put(path)

    # -- measuring --------------------------------------------------------------------------------------------
    def measure(self, path: Path) -> None:
        from spine.dicomout import write_dicom_outputs

        stem = path.stem
        if (self.folders.outbox / stem).exists() or (self.folders.sent / stem).exists():
            path.replace(self.folders.done / path.name)  # measured before (a crash, a duplicate): nothing to redo or resend
            log.info("%s measured before: not measured again", stem)
            return
        try:
            film = read_radiograph(path)
            result = measure_film(film, self.models)
            write_result(result, self.folders.results / f"{stem}.json")
            write_overlay(film, result, self.folders.results / f"{stem}_overlay.png")
            if len(result.spine) == 0:
                raise RadiographError(path, "no spine found")
            staging = self.folders.staging / stem
            shutil.rmtree(staging, ignore_errors=True)
            write_dicom_outputs(result, path, staging, self.models.version, deterministic=True)
            staging.replace(self.folders.outbox / stem)
        except Exception as exc:  # a film that cannot be measured is kept apart, the node goes on
            log.error("could not measure %s: %s", stem, " ".join(str(exc).split())[:300])
            path.replace(self.folders.failed / path.name)
            return
        path.replace(self.folders.done / path.name)
        log.info("measured %s: %d vertebrae", stem, len(result.spine))
        self.wake.set()

    def worker(self) -> None:
        """Measure queued films until stopped; nothing a film does ends the thread."""
        while not self.stopping.is_set():
            path = self.work.get()
            if path is None:
                return
            with self.queued_lock:
                self.queued.discard(path)
            if not path.exists():  # measured already under this name (a duplicate stored while it waited)
                continue
            try:
                self.measure(path)
            except Exception as exc:  # noqa: BLE001 - a film that breaks the bookkeeping must not stop the node
                log.error("could not finish %s: %s: %s", path.stem, type(exc).__name__, " ".join(str(exc).split())[:200])

    # -- forwarding -------------------------------------------------------------------------------------------
    def send(self, files: list[Path]) -> bool:
        return send_files(files, self.forward, self.aet)

    def forwarder(self) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            pending = sorted(p for p in self.folders.outbox.iterdir() if p.is_dir())
            if not pending:
                self.wake.wait(timeout=5.0)
                self.wake.clear()
                continue
            folder = pending[0]
            try:
                ok = self.send(sorted(folder.glob("*.dcm")))
            except Exception as exc:  # the peer is down or refuses: try again later
                log.warning("forwarding %s failed: %s", folder.name, " ".join(str(exc).split())[:200])
                ok = False
            if ok:
                shutil.rmtree(self.folders.sent / folder.name, ignore_errors=True)
                folder.replace(self.folders.sent / folder.name)
                log.info("forwarded %s to %s", folder.name, self.forward.aet)
                delay = 1.0
            else:
                log.warning("%s not forwarded; retrying in %.0f s", folder.name, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, 60.0)


def _encoded(ds) -> bytes:
    from io import BytesIO

    buffer = BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def start(node: Node, host: str, port: int, allow: list[str] | None):
    """Start the SCP (non-blocking) and the worker and forwarder threads; returns the pynetdicom server."""
    from pynetdicom import AE, evt
    from pynetdicom.sop_class import Verification

    ae = AE(ae_title=node.aet)
    ae.add_supported_context(Verification)
    for uid in ACCEPTED:
        ae.add_supported_context(uid, ["1.2.840.10008.1.2.1", "1.2.840.10008.1.2", "1.2.840.10008.1.2.4.70",
                                       "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.5"])
    if allow:
        ae.require_calling_aet = allow
    for path in sorted(node.folders.incoming.glob("*.dcm")):  # received before a restart, not yet measured
        node.enqueue(path)
    threading.Thread(target=node.worker, daemon=True, name="measure").start()
    if node.forward is not None:
        threading.Thread(target=node.forwarder, daemon=True, name="forward").start()
    return ae.start_server((host, port), block=False, evt_handlers=[(evt.EVT_C_STORE, node.handle_store)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.node", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--aet", default="SPINE", help="this node's AE title (default SPINE)")
    parser.add_argument("--port", type=int, default=11112, help="port to listen on (default 11112)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--out", required=True, help="working folder: incoming, done, failed, results, outbox, sent")
    parser.add_argument("--forward", type=Peer.parse, metavar="AET@HOST:PORT", help="send the results there by C-STORE")
    parser.add_argument("--allow", nargs="+", metavar="AET", help="accept associations only from these calling AE titles")
    parser.add_argument("--models", help="model set folder (default: the shipped model)")
    parser.add_argument("--device", default="cpu", help="torch device")
    args = parser.parse_args(argv)
    from pipeline.core import UsageError, check_device, load_models
    from spine import logs
    from spine.files import FolderLock, FolderLocked
    from spine.offline import configure

    logs.configure(fmt="%(asctime)s %(levelname)s %(message)s")
    configure()
    try:
        folders = Folders(args.out)
        lock = FolderLock(folders.root, ".spine-node.lock", "another node").__enter__()
        node = Node(folders, load_models(args.models, check_device(args.device)), args.aet, args.forward)
    except (UsageError, OSError, FolderLocked) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = start(node, args.host, args.port, args.allow)
    log.info("%s listening on %s:%d%s", args.aet, args.host, args.port, f", forwarding to {args.forward.aet}" if args.forward else "")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        log.info("stopping")
    finally:
        node.stopping.set()
        node.work.put(None)
        server.shutdown()
        lock.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())

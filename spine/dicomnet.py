"""Sending DICOM objects to a PACS (pynetdicom): the peer as ``AET@HOST:PORT`` and one C-STORE association."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

SUCCESS = 0x0000


@dataclass(frozen=True)
class Peer:
    aet: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> "Peer":
        try:
            aet, address = text.split("@", 1)
            host, port = address.rsplit(":", 1)
            return cls(aet, host, int(port))
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: give AET@HOST:PORT, e.g. ORTHANC@127.0.0.1:4242") from None


def send_files(files: list[Path], peer: Peer, calling_aet: str) -> bool:
    """C-STORE every file to ``peer`` in one association; True when the peer took every one."""
    import pydicom
    from pynetdicom import AE

    datasets = [pydicom.dcmread(f) for f in files]
    ae = AE(ae_title=calling_aet)
    for uid in {str(ds.SOPClassUID) for ds in datasets}:
        ae.add_requested_context(uid)
    assoc = ae.associate(peer.host, peer.port, ae_title=peer.aet)
    if not assoc.is_established:
        return False
    try:
        return all(getattr(assoc.send_c_store(ds), "Status", 0xFFFF) == SUCCESS for ds in datasets)
    finally:
        assoc.release()

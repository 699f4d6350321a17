"""Send a result back as DICOM: the SR, presentation state and segmentation of a (corrected, verified) result.

    python -m pipeline.export RESULT.json --source FILM.dcm --dicom-out DIR [--verified-by NAME]
                              [--predecessor PRELIMINARY_SR.dcm] [--send AET@HOST:PORT] [--aet SPINE]

The objects go into new series of the film's study (:mod:`spine.dicomout`). With ``--verified-by`` (or a result
the review page verified) the SR is FINAL, COMPLETE and VERIFIED with the reader as Verifying Observer, and points
at ``--predecessor``, the preliminary SR it replaces; the warnings the reader settled go into the result as
resolved (its JSON is then written back, keeping the earlier file as ``RESULT.json.before-verify-<time>``). With
``--send`` the objects go to that PACS by C-STORE. Exit 0: written (and sent); 1: not sent; 2: nothing written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spine.dicomnet import Peer, send_files
from spine.files import atomic_write_json
from spine.inputs import printable
from spine.remeasure import measure_result, verified
from spine.result import ResultError, read_result, to_dict


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.export", description=__doc__.strip().splitlines()[0])
    parser.add_argument("result", help="a spine-geometry/1 result (e.g. corrected in the review page)")
    parser.add_argument("--source", required=True, help="the DICOM film the result was measured on")
    parser.add_argument("--dicom-out", required=True, help="folder for the SR, presentation state and segmentation")
    parser.add_argument("--verified-by", metavar="NAME", help="the reader who checked the result: the objects go out verified")
    parser.add_argument("--predecessor", help="the preliminary SR the verified one replaces (its Predecessor Documents)")
    parser.add_argument("--send", type=Peer.parse, metavar="AET@HOST:PORT", help="send the objects there by C-STORE")
    parser.add_argument("--aet", default="SPINE", help="this program's AE title when sending (default SPINE)")
    return parser.parse_args(argv)


def export(result_path: Path, source: Path, out: Path, reader: str | None, predecessor: Path | None) -> list[Path]:
    """Write the objects of the result at ``result_path`` (verified by ``reader`` when given, its JSON then updated
    with the verification and the settled warnings) and return their paths."""
    from spine.dicomout import write_dicom_outputs

    result = read_result(result_path)
    result = verified(result, reader) if reader else measure_result(result)  # verifying re-measures too
    if len(result.spine) == 0:
        raise ValueError("the result holds no vertebra: nothing to export")
    written = write_dicom_outputs(result, source, out, result.model.get("name", "unknown") if result.model else "unknown",
                                  predecessor=predecessor)
    if reader:  # the objects are out: the result records its verification, the reader's file kept beside
        stamp = "".join(c for c in result.verified.at if c.isalnum())
        result_path.replace(result_path.with_name(f"{result_path.name}.before-verify-{stamp}"))
        atomic_write_json(result_path, to_dict(result))
    return [written.sr, written.gsps, written.seg]


def main(argv: list[str] | None = None) -> int:
    from spine.dicomout import DicomOutputError

    args = parse_args(argv)
    try:
        paths = export(Path(args.result), Path(args.source), Path(args.dicom_out), args.verified_by,
                       Path(args.predecessor) if args.predecessor else None)
    except (OSError, ResultError, DicomOutputError, ValueError) as exc:
        print(f"error: {printable(args.result)}: {' '.join(str(exc).split())[:300]}", file=sys.stderr)
        return 2
    for path in paths:
        print(printable(path))
    if args.send is not None:
        if not send_files(paths, args.send, args.aet):
            print(f"error: {args.send.aet}@{args.send.host}:{args.send.port} did not take the objects (written, not sent)",
                  file=sys.stderr)
            return 1
        print(f"sent to {args.send.aet}@{args.send.host}:{args.send.port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

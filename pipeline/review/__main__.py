"""Review, correct and compare films in the browser.

    python -m pipeline.review RESULTS_DIR [--films DIR] [--port 8765] [--host 127.0.0.1] [--no-browser]
                              [--dicom-out DIR [--send AET@HOST:PORT] [--aet SPINE]]

Serves a local page over a folder of ``pipeline.infer`` results. A new random token guards each start; the
address to open, token included, is printed (and opened in the default browser unless --no-browser). With
``--dicom-out`` (the folder ``pipeline.infer --dicom-out`` wrote), a film a reader verifies goes out as verified DICOM
objects beside its preliminary ones, and with ``--send`` to that PACS.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path

from spine.dicomnet import Peer


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipeline.review", description=__doc__.strip().splitlines()[0])
    parser.add_argument("results", metavar="RESULTS_DIR", help="a folder written by pipeline.infer (<stem>.json, summary.csv)")
    parser.add_argument("--films", help="where to look for films whose recorded path does not resolve")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    parser.add_argument("--no-browser", action="store_true", help="only print the address, do not open a browser")
    parser.add_argument("--dicom-out", help="where verified films' DICOM objects go (per film: DIR/<stem>/)")
    parser.add_argument("--send", type=Peer.parse, metavar="AET@HOST:PORT", help="send verified films' objects there by C-STORE")
    parser.add_argument("--aet", default="SPINE", help="this program's AE title when sending (default SPINE)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from pipeline.review.app import create_app
    from pipeline.review.store import Exporter, ResultsFolder
    from spine.offline import configure

    args = parse_args(argv)
    configure()
    folder = Path(args.results)
    if not folder.is_dir():
        print(f"error: {args.results}: no such results folder", file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(18)
    if args.send is not None and not args.dicom_out:
        print("error: --send needs --dicom-out (where the verified objects are written first)", file=sys.stderr)
        return 2
    exporter = Exporter(Path(args.dicom_out).resolve(), args.send, args.aet) if args.dicom_out else None
    app = create_app(ResultsFolder(folder.resolve(), Path(args.films).resolve() if args.films else None, exporter), token)
    url = f"http://{args.host}:{args.port}/?token={token}"
    print(f"review {folder} at {url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        import webbrowser

        webbrowser.open(url)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())

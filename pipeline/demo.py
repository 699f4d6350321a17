"""Make a sample film the project can ship (a synthetic phantom), so every command has something to run on.

    python -m pipeline.demo --out DIR [--view ap|lat] [--seed N]

Writes DIR/sample_<view>.dcm with its ground truth DIR/sample_<view>.json and prints the film's path.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from spine.phantom import sample_film


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    parser = argparse.ArgumentParser(prog="python -m pipeline.demo", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--out", default="demo_out", help="folder for the sample film (default demo_out)")
    parser.add_argument("--view", default="ap", choices=["ap", "lat"], help="frontal (ap) or lateral (lat) film")
    parser.add_argument("--seed", type=int, default=7, help="phantom seed (default 7)")
    args = parser.parse_args(argv)
    print(sample_film(Path(args.out), args.view.upper(), args.seed))
    return 0


if __name__ == "__main__":
    sys.exit(main())

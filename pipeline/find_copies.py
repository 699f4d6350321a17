"""Find the Roboflow films that are copies of AASCE or challenge films, and the AASCE films filed twice under two
patient keys; write the list training and validation heed.

    python -m pipeline.find_copies [--out configs/data/roboflow_copies.yaml] [--limit N]

Every Roboflow film not already named as an AASCE or challenge film is compared with every AASCE film (both
sides of the patient split) and every challenge film, as it is and mirrored (:mod:`spine.research.datasets.copies`).
The list names each copy, the film it copies, that film's side (train, val, challenge), whether it is mirrored
and its score; and the Roboflow families whose films are dropped whole (see ``FAMILIES``). The AASCE films are
also compared among themselves (each with the 4 most alike films of other patient keys): a film filed again
under another patient key links the two keys, and the validation side leaves out a patient linked to a training
one (``spine.research.datasets.sources.aasce_split``). Names only, no image data. About 7 minutes on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

# A family is dropped whole when its films turn out to be AASCE films: the ones not matched to a film held here
# are then most likely AASCE films we do not hold (the boostnet test split, on which models are judged).
FAMILIES = {
    "Image_": "the 'unknown origin' films 'Image_NNN[_2ndbatch]' are AASCE films mirrored and re-processed "
              "(most verified as copies of AASCE training, validation or challenge films); the others are most "
              "likely AASCE films not held here (the boostnet test split), so none of the family is trained on",
}


def _grey(path: str):
    from spine.radiograph import read_radiograph

    return read_radiograph(path).pixels


def find(data, limit: int | None = None, progress: bool = True) -> tuple[list[dict], Counter]:
    """(copies, counts): per Roboflow candidate at or above the copy score, its record; counts by side."""
    from tqdm import tqdm

    from spine.research.datasets.annotation import roboflow_original
    from spine.research.datasets.copies import COPY_SCORE, best_match, fingerprint
    from spine.research.datasets.sources import aasce_annotations, aasce_split, challenge_films, named_elsewhere
    from spine.research.datasets.yolo import load_yolo

    aasce = aasce_annotations(data, "keep")
    split = aasce_split(data, linked_out=False)
    refs = [(a.name, split.side(a.patient), a.image) for a in aasce]
    refs += [(Path(p).name, "challenge", str(p)) for p in challenge_films(data)]
    candidates = [r for r in load_yolo(data.root_path() / data.roboflow) if not named_elsewhere(r.image)][:limit]
    plain, flipped = [], []
    for _, _, path in tqdm(refs, desc="references", disable=not progress):
        pixels = _grey(path)
        plain.append(fingerprint(pixels))
        flipped.append(fingerprint(pixels, mirrored=True))
    copies, counts = [], Counter()
    for r in tqdm(candidates, desc="candidates", disable=not progress):
        match = best_match(fingerprint(_grey(r.image)), plain, flipped)
        counts["candidates"] += 1
        if match.score >= COPY_SCORE:
            name, side, _ = refs[match.reference]
            counts[side] += 1
            copies.append({"roboflow": roboflow_original(r.image), "copy_of": name, "side": side,
                           "mirrored": match.mirrored, "score": round(match.score, 3)})
    return copies, counts


def same_films(data, progress: bool = True) -> list[dict]:
    """AASCE films that are one film filed under two patient keys: each pair once, with both keys' split sides."""
    import numpy as np
    from tqdm import tqdm

    from spine.research.datasets.copies import COPY_SCORE, fingerprint, verify
    from spine.research.datasets.sources import aasce_annotations, aasce_split

    films = aasce_annotations(data, "keep")
    split = aasce_split(data, linked_out=False)
    prints = [fingerprint(_grey(a.image)) for a in tqdm(films, desc="AASCE films", disable=not progress)]
    thumbs = np.stack([f.thumb for f in prints])
    similarity = thumbs @ thumbs.T / thumbs.shape[1]
    pairs = {}
    for i, a in enumerate(films):
        others = [j for j in np.argsort(-similarity[i]) if films[j].patient != a.patient][:4]
        for j in others:
            key = tuple(sorted((a.name, films[j].name)))
            if key not in pairs and (score := verify(prints[i], prints[j])) >= COPY_SCORE:
                pairs[key] = {"films": list(key), "patients": sorted({a.patient, films[j].patient}),
                              "sides": sorted({str(split.side(a.patient)), str(split.side(films[j].patient))}),
                              "score": round(score, 3)}
    return sorted(pairs.values(), key=lambda p: p["films"])


def write(path: Path, copies: list[dict], counts: Counter, same: list[dict]) -> None:
    import yaml

    from spine.files import atomic_write_text

    header = ("# Roboflow films that are copies of AASCE or challenge films (written by python -m pipeline.find_copies;\n"
              f"# {counts['candidates']} candidates, copies by the copied film's side: train {counts['train']}, "
              f"val {counts['val']}, challenge {counts['challenge']}).\n"
              "# Training leaves every listed film out, and every film of a dropped family. aasce_same_film: one film\n"
              "# filed under two patient keys; validation leaves out a patient so linked to a training one.\n"
              "# Names only: no data.\n")
    body = {"families_dropped": FAMILIES, "copies": sorted(copies, key=lambda c: c["roboflow"]), "aasce_same_film": same}
    atomic_write_text(path, header + yaml.safe_dump(body, sort_keys=False, width=120, allow_unicode=True))


def main(argv: list[str] | None = None) -> int:
    from spine.paths import REPO_ROOT
    from spine.research.datasets.sources import DataConfig

    parser = argparse.ArgumentParser(prog="python -m pipeline.find_copies", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "configs/data/roboflow_copies.yaml"))
    parser.add_argument("--limit", type=int, help="only the first N candidates (a quick look)")
    args = parser.parse_args(argv)
    data = DataConfig()
    if not (data.root_path() / data.roboflow).is_dir():
        print(f"no Roboflow films under {data.root_path()}", file=sys.stderr)
        return 2
    copies, counts = find(data, args.limit)
    same = same_films(data)
    write(Path(args.out), copies, counts, same)
    print(f"{len(copies)} copies of {counts['candidates']} candidates: {dict(counts)}; {len(same)} AASCE films filed "
          f"twice, {sum('val' in p['sides'] and 'train' in p['sides'] for p in same)} across the split -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Count and ordering priors: from raw vertebra detections to one labelled cranio-caudal chain.

Vertebrae form one chain from cranial to caudal whose size, spacing and
direction vary smoothly. The best chain is found by dynamic programming
over the detections sorted by height in the film: each detection earns its
score minus a threshold; each link pays for an unusual spacing, a lateral
jump, a size change, and every vertebra missing in between (inserted later
by interpolation and marked ``inferred``). Detections off the chain (ribs,
pelvis, skull, duplicates) are dropped. Levels are named from the expected
run (a soft count): a longer chain gives the expected run to its most
confident stretch and names the rest by anatomy (C7 above, S1 below), or
inserts a configured extra level (L6, T13); a shorter one is named from the
top; each case comes with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from spine.config import ConfigError
from spine.contracts import Detection
from spine.geometry import AASCE_LEVELS, LEVELS, Box, Spine, Vertebra, box_iou, level_index

STANDARD_LEVELS = [name for name in LEVELS if name not in ("T13", "L6")]  # the usual count, for naming by position


@dataclass(frozen=True)
class PriorsConfig:
    enabled: bool = True
    expected_levels: tuple[str, ...] = AASCE_LEVELS
    min_score: float = 0.05
    node_threshold: float = 0.2
    merge_iou: float = 0.45
    pitch_ratio: float = 1.3
    max_gap: int = 2
    gap_penalty: float = 0.25
    spacing_weight: float = 2.0
    lateral_weight: float = 2.0
    size_weight: float = 1.0
    min_chain: int = 3
    min_median_score: float = 0.5  # a chain of weak detections (noise, a checkerboard, another body part) is no spine
    extra_level: Literal["auto", "L6", "T13"] = "auto"
    snap_iou: float = 0.3  # an inferred vertebra takes the box of a weak detection overlapping it this much; 0: off
    min_edge_distance: float = 0.15  # a chain centred this close to a side edge (share of the width) is no spine

    def validate(self) -> None:
        if len(self.expected_levels) < 2:
            raise ConfigError("priors.expected_levels needs at least two levels, e.g. [T1, ..., L5]")
        indices = [level_index(name) for name in self.expected_levels]
        if indices != sorted(indices):
            raise ConfigError("priors.expected_levels must run cranial to caudal")
        if not 0.0 <= self.snap_iou <= 1.0:
            raise ConfigError(f"priors.snap_iou={self.snap_iou} must lie in [0, 1] (0 turns snapping off)")
        if not 0.0 <= self.min_edge_distance < 0.5:
            raise ConfigError(f"priors.min_edge_distance={self.min_edge_distance} must lie in [0, 0.5) (0 turns the check off)")


def merge_duplicates(detections: list[Detection], iou: float) -> list[Detection]:
    """Greedy NMS by score; a box mostly inside a kept one also counts as its duplicate."""
    kept: list[Detection] = []
    for det in sorted(detections, key=lambda d: -d.score):
        box = np.array([det.box.as_list()])
        if kept:
            boxes = np.array([k.box.as_list() for k in kept])
            inter = box_iou(box, boxes)[0]
            lt, rb = np.maximum(box[:, :2], boxes[:, :2]), np.minimum(box[:, 2:], boxes[:, 2:])
            inside = np.clip(rb - lt, 0, None).prod(axis=1) / max(det.box.area, 1e-9)
            if np.any(inter > iou) or np.any(inside > 0.8):
                continue
        kept.append(det)
    return kept


def pitch_profile(detections: list[Detection], min_score: float = 0.4):
    """Vertical centre-to-centre spacing of neighbouring vertebrae as a function of image y, measured on the
    confident detections (a running median, so a missing vertebra's double gap does not count). Box heights
    overstate the spacing of tilted vertebrae, so this is preferred to them. None when too few detections."""
    strong = sorted((d for d in detections if d.score >= min_score), key=lambda d: d.box.center[1])
    ys, gaps = [], []
    for a, b in zip(strong, strong[1:]):
        dy = b.box.center[1] - a.box.center[1]
        if abs(b.box.center[0] - a.box.center[0]) < (a.box.width + b.box.width) / 2 and dy > 0.25 * min(a.box.height, b.box.height):
            ys.append((a.box.center[1] + b.box.center[1]) / 2)
            gaps.append(dy)
    if len(gaps) < 3:
        return None
    smooth = [float(np.median(gaps[max(0, k - 2) : k + 3])) for k in range(len(gaps))]
    return lambda y: float(np.interp(y, ys, smooth))


def _link(a: Box, b: Box, cfg: PriorsConfig, pitch_at=None) -> tuple[float, int] | None:
    """Cost of b following a in the chain and the number of steps (1 + vertebrae missing between); None if implausible."""
    (ax, ay), (bx, by) = a.center, b.center
    height, width = (a.height + b.height) / 2, (a.width + b.width) / 2
    pitch = pitch_at((ay + by) / 2) if pitch_at is not None else cfg.pitch_ratio * height
    dy = by - ay
    if dy < 0.5 * pitch:
        return None
    steps = max(1, int(round(dy / pitch)))
    if steps - 1 > cfg.max_gap:
        return None
    lateral = abs(bx - ax) / (steps * width)
    size = abs(np.log(max(b.width, 1e-6) / max(a.width, 1e-6)))
    if lateral > 1.2 or size > np.log(1.8):
        return None
    cost = cfg.spacing_weight * (dy / (steps * pitch) - 1) ** 2 + cfg.lateral_weight * max(0.0, lateral - 0.5) ** 2
    return cost + cfg.size_weight * size**2 + cfg.gap_penalty * (steps - 1), steps


def best_chain(detections: list[Detection], cfg: PriorsConfig) -> list[tuple[Detection, int]]:
    """The highest-value chain, cranial first, as (detection, steps from the previous one)."""
    nodes = sorted(detections, key=lambda d: d.box.center[1])
    pitch_at = pitch_profile(nodes)
    value = [d.score - cfg.node_threshold for d in nodes]
    back: list[tuple[int, int] | None] = [None] * len(nodes)
    for j in range(len(nodes)):
        for i in range(j):
            link = _link(nodes[i].box, nodes[j].box, cfg, pitch_at)
            if link is None:
                continue
            candidate = value[i] + nodes[j].score - cfg.node_threshold - link[0]
            if candidate > value[j]:
                value[j], back[j] = candidate, (i, link[1])
    if not nodes:
        return []
    j, chain = int(np.argmax(value)), []
    while True:
        prev = back[j]
        chain.append((nodes[j], prev[1] if prev else 1))
        if prev is None:
            break
        j = prev[0]
    return chain[::-1]


def _interpolate(a: Box, b: Box, t: float) -> Box:
    return Box(*(np.asarray(a.as_list()) * (1 - t) + np.asarray(b.as_list()) * t))


def fill_gaps(chain: list[tuple[Detection, int]]) -> list[tuple[Box, float, bool, Detection | None]]:
    """(box, score, inferred, detection) per vertebra, with the missing ones interpolated between their neighbours."""
    out: list[tuple[Box, float, bool, Detection | None]] = []
    for k, (det, steps) in enumerate(chain):
        if k > 0 and steps > 1:
            prev = chain[k - 1][0].box
            out += [(_interpolate(prev, det.box, s / steps), 0.0, True, None) for s in range(1, steps)]
        out.append((det.box, det.score, False, det))
    return out


def name_levels(scores: list[float], cfg: PriorsConfig) -> tuple[list[str | None], list[str]]:
    """Level names for a chain (its vertebrae's scores, cranial first) from the soft expected count, and warnings.

    One vertebra too many with ``extra_level`` L6 or T13: that level is inserted. Otherwise, with more
    vertebrae than expected, the expected run goes to the most confident window of that length and the others are
    named by anatomy beyond it (C7 above T1, S1 below L5). With fewer, names run from the first expected level.
    """
    expected, count = list(cfg.expected_levels), len(scores)
    n, span = len(expected), f"{expected[0]}-{expected[-1]}"
    if count == n:
        return expected, []
    if count < n:
        return expected[:count], [f"{count} vertebrae found where {n} ({span}) were expected: named from {expected[0]} "
                                  f"down to {expected[count - 1]}; if {expected[0]} is out of view, the names are shifted"]
    if count == n + 1 and cfg.extra_level in ("L6", "T13"):
        return _with_extra(expected, cfg.extra_level), [
            f"{count} vertebrae in one chain where {n} ({span}) were expected: the extra one is named {cfg.extra_level} "
            f"(transitional anatomy, or a C7/S1 taken for one); check the film"]
    window = [sum(scores[k : k + n]) for k in range(count - n + 1)]
    start = int(np.argmax(window))
    first = STANDARD_LEVELS.index(expected[0]) - start
    names = [STANDARD_LEVELS[first + k] if 0 <= first + k < len(STANDARD_LEVELS) else None for k in range(count)]
    beyond = ", ".join(str(names[k]) for k in list(range(start)) + list(range(start + n, count)))
    return names, [f"{count} vertebrae in one chain where {n} ({span}) were expected: {span} given to the most "
                   f"confident run of {n}; the others named {beyond} by position (could also be L6/T13); check the film"]


def _with_extra(expected: list[str], extra: str) -> list[str]:
    names = list(expected)
    if extra == "L6" and "L5" in names:
        names.insert(names.index("L5") + 1, "L6")
    elif extra == "T13" and "T12" in names:
        names.insert(names.index("T12") + 1, "T13")
    else:
        names.append(None)
    return names


def _named_by_scores(items, cfg: PriorsConfig) -> list[str | None] | None:
    """Names from a per-level detector: the run of consecutive standard levels whose probabilities fit best."""
    scored = [det for *_, det in items if det is not None and det.level_scores is not None]
    if not scored:
        return None
    levels = scored[0].levels
    best, best_start = -np.inf, 0
    for start in range(-len(items) + 1, len(STANDARD_LEVELS)):
        total = 0.0
        for k, (*_, det) in enumerate(items):
            name = STANDARD_LEVELS[start + k] if 0 <= start + k < len(STANDARD_LEVELS) else None
            if det is not None and det.level_scores is not None and name in levels:
                total += float(np.log(det.level_scores[levels.index(name)] + 1e-6))
            elif det is not None and det.level_scores is not None:
                total += np.log(1e-6)
        if total > best:
            best, best_start = total, start
    return [STANDARD_LEVELS[best_start + k] if 0 <= best_start + k < len(STANDARD_LEVELS) else None for k in range(len(items))]


def apply_priors(detections: list[Detection], cfg: PriorsConfig = PriorsConfig(), view: str = "AP",
                 spacing_mm=None, name_by_count: bool = True, width: float | None = None) -> tuple[Spine, list[str]]:
    """Turn raw detections into a labelled spine (cranial first) and warnings. No chain: an empty spine; nor when
    the film's ``width`` is given and the chain's centre lies within ``min_edge_distance`` of its width from a side
    edge (films are collimated on the spine: on every real film here the chain's centre lies 0.30 or more in).

    name_by_count=False: the chain for a level identifier to name; its vertebrae still carry the count's names
    (a fallback), but the warnings about naming and the inferred vertebrae's names are left to the identifier."""
    candidates = [d for d in detections if d.score >= cfg.min_score]
    if not cfg.enabled:
        ordered = sorted(merge_duplicates(candidates, cfg.merge_iou), key=lambda d: d.box.center[1])
        items = [(d.box, d.score, False, d) for d in ordered if d.score >= cfg.node_threshold]
        names, warnings = name_levels([item[1] for item in items], cfg) if items else ([], [])
        return _spine(items, names, view, spacing_mm), warnings
    chain = best_chain(merge_duplicates(candidates, cfg.merge_iou), cfg)
    items = fill_gaps(chain)
    if len(items) < cfg.min_chain:
        return Spine((), view=view, spacing_mm=spacing_mm), [f"no spine found: no chain of {cfg.min_chain} or more vertebrae"]
    median = float(np.median([det.score for det, _ in chain]))
    if median < cfg.min_median_score:
        return Spine((), view=view, spacing_mm=spacing_mm), [
            f"no spine found: the best chain's {len(chain)} detections are weak (median score {median:.2f} < "
            f"{cfg.min_median_score}); is this a spine radiograph?"]
    across = float(np.mean([item[0].center[0] for item in items])) / width if width else 0.5
    if min(across, 1 - across) < cfg.min_edge_distance:
        return Spine((), view=view, spacing_mm=spacing_mm), [
            f"no spine found: the best chain lies at the film's side edge ({across:.0%} across); is this a spine radiograph?"]
    inferred = [k for k, item in enumerate(items) if item[2]]
    by_score = _named_by_scores(items, cfg)
    names, warnings = (by_score, []) if by_score is not None else name_levels([item[1] for item in items], cfg)
    if not name_by_count:
        warnings = []
    elif inferred:
        warnings.append(f"{len(inferred)} vertebra(e) not detected, inferred between neighbours: "
                        + ", ".join(str(names[k] or f"#{k + 1}") for k in inferred))
    dropped = len(candidates) - len(chain)
    if dropped > 0:
        warnings.append(f"{dropped} detection(s) off the spine's chain dropped (duplicates, ribs, pelvis or noise)")
    return _spine(items, names, view, spacing_mm), warnings


def _spine(items, names, view: str, spacing_mm) -> Spine:
    vertebrae = tuple(Vertebra(name, box, score=score, inferred=inferred) for (box, score, inferred, _), name in zip(items, names))
    return Spine(vertebrae, view=view, spacing_mm=spacing_mm)


def snap_inferred(spine: Spine, detections: list[Detection], min_iou: float) -> Spine:
    """The spine with each inferred vertebra (placed by the priors between neighbours, or by the level identifier
    beyond the chain's ends) moved onto the raw detection that overlaps it best, when that detection overlaps it by
    ``min_iou`` or more and no other vertebra of the spine by as much: a weak detection the chain left out is a
    better box than one drawn from the neighbours. Snapped vertebrae stay ``inferred`` and take the detection's
    score; each detection serves one vertebra. ``min_iou`` 0 leaves the spine as it is."""
    if min_iou <= 0 or not detections or not any(v.inferred for v in spine.vertebrae):
        return spine
    boxes = np.array([d.box.as_list() for d in detections])
    overlap = box_iou(np.array([v.box.as_list() for v in spine.vertebrae]), boxes)  # (vertebrae, detections)
    used: set[int] = set()
    out = list(spine.vertebrae)
    for k, v in enumerate(spine.vertebrae):
        if not v.inferred:
            continue
        others = np.delete(overlap, k, axis=0).max(axis=0) if len(out) > 1 else np.zeros(len(detections))
        free = [j for j in np.argsort(-overlap[k]) if j not in used and others[j] < min_iou]
        if free and overlap[k, free[0]] >= min_iou:
            j = int(free[0])
            used.add(j)
            out[k] = v.with_(box=detections[j].box, score=detections[j].score)
    return spine.with_(vertebrae=tuple(out))

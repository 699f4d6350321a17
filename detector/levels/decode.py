"""The naming lattice: from per-member level probabilities to one consecutive naming of the chain.

Members of the chain are given in cranial-to-caudal order, each with log-probabilities over :data:`CLASSES` (the
levels of :data:`spine.geometry.LEVELS` and ``none``, "not a vertebra"). A naming gives each member a level or
``none``; the levels of the members that are vertebrae must rise strictly. Its score is the sum of the members'
log-probabilities plus the log-priors of the steps between consecutive vertebrae: a standard step is free, each
standard level skipped (a vertebra the detector missed) costs ``missing_cost``, a T13 or L6 costs
``extra_cost`` and a member that is no vertebra ``none_cost``.
The first and last vertebra pay for their distance (in levels) from the expected first and last
levels, so an uninformative sequence is named by the count, from the top, as the priors name it.

One pass of the lattice in the max semiring gives the best naming and, at every member, the best score of any
naming with another label there (the max-marginals); the runner-up naming's score is the best of those, and the
margin between the two says how sure the naming is. The same pass in the log-sum-exp semiring gives each member's
posterior over the classes. Everything here is pure numpy; scores are in nats.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spine.geometry import LEVELS, STANDARD_LEVELS

CLASSES: tuple[str, ...] = (*LEVELS, "none")
NONE = len(LEVELS)
EXTRA_LEVELS = ("T13", "L6")
_L = len(LEVELS)
_START = _L  # the lattice state before any vertebra


@dataclass(frozen=True)
class DecodeConfig:
    """Costs in nats. temperature divides the network's logits (fitted after training: calibration).
    uncertain_margin: a naming whose score beats the runner-up's by less is reported as uncertain."""

    missing_cost: float = 4.0
    max_missing: int = 2
    extra_cost: float = 4.0
    none_cost: float = 1.0
    start_cost: float = 0.5
    end_cost: float = 0.4
    temperature: float = 1.0
    uncertain_margin: float = 2.0


@dataclass(frozen=True, eq=False)
class Naming:
    """labels: per member a level name or None (not a vertebra); score: the best naming's log-score;
    margin: best minus runner-up score (inf when there is no other naming); runner_up: that naming's labels;
    posterior: (n, len(CLASSES)) per-member probabilities."""

    labels: tuple[str | None, ...]
    score: float
    margin: float
    runner_up: tuple[str | None, ...]
    posterior: np.ndarray

    def uncertain(self, cfg: DecodeConfig) -> bool:
        return self.margin < cfg.uncertain_margin


def standard_position(level: str) -> float:
    """Position in the standard run; T13 and L6 sit half a step after T12 and L5."""
    if level in STANDARD_LEVELS:
        return float(STANDARD_LEVELS.index(level))
    return STANDARD_LEVELS.index({"T13": "T12", "L6": "L5"}[level]) + 0.5


def transitions(cfg: DecodeConfig, expected: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(L + 1, L) log-prior of level b following state a (the last row: b is the first vertebra), and (L + 1,)
    log-prior of ending in state a (the last entry: no vertebra at all)."""
    pos = np.array([standard_position(name) for name in LEVELS])
    extra = np.array([name in EXTRA_LEVELS for name in LEVELS], float)
    step = np.full((_L + 1, _L), -np.inf)
    for a in range(_L):
        for b in range(a + 1, _L):
            skipped = int(np.ceil(pos[b]) - np.floor(pos[a]) - 1) if pos[b] > pos[a] else -1
            if 0 <= skipped <= cfg.max_missing:
                step[a, b] = -cfg.missing_cost * skipped - cfg.extra_cost * extra[b]
    first, last = standard_position(expected[0]), standard_position(expected[-1])
    step[_START] = -cfg.start_cost * np.abs(pos - first) - cfg.extra_cost * extra
    end = np.append(-cfg.end_cost * np.abs(pos - last), -1e6)
    return step, end


def _reduce(values: np.ndarray, axis: int, semiring: str) -> np.ndarray:
    if semiring == "max":
        return values.max(axis=axis)
    top = values.max(axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    with np.errstate(divide="ignore"):
        return np.log(np.exp(values - top).sum(axis=axis)) + np.squeeze(top, axis=axis)


def _combine(a: np.ndarray, b: np.ndarray, semiring: str) -> np.ndarray:
    return np.maximum(a, b) if semiring == "max" else np.logaddexp(a, b)


def _with_none_cost(logp: np.ndarray, cfg: DecodeConfig) -> np.ndarray:
    out = np.array(logp, float)
    out[:, NONE] -= cfg.none_cost
    return out


def _forward(logp: np.ndarray, step: np.ndarray, semiring: str):
    """E (n, L): prefix scores with member i a vertebra of level b; N (n, L + 1): member i none, last level s;
    A (n, L + 1) their combination; ptr (n, L): the best previous state of each E (max semiring)."""
    n = len(logp)
    E, N, A = np.full((n, _L), -np.inf), np.full((n, _L + 1), -np.inf), np.full((n, _L + 1), -np.inf)
    ptr = np.zeros((n, _L), int)
    prev = np.full(_L + 1, -np.inf)
    prev[_START] = 0.0
    for i in range(n):
        through = prev[:, None] + step  # (L + 1, L)
        E[i] = logp[i, :_L] + _reduce(through, 0, semiring)
        ptr[i] = through.argmax(axis=0)
        N[i] = logp[i, NONE] + prev
        A[i] = _combine(np.append(E[i], -np.inf), N[i], semiring)
        prev = A[i]
    return E, N, A, ptr


def _backward(logp: np.ndarray, step: np.ndarray, end: np.ndarray, semiring: str) -> np.ndarray:
    """B (n, L + 1): best (or summed) score of the members after i, given the last level after member i."""
    n = len(logp)
    B = np.full((n, _L + 1), -np.inf)
    B[n - 1] = end
    for i in range(n - 2, -1, -1):
        emit = _reduce(step + (logp[i + 1, :_L] + B[i + 1, :_L])[None, :], 1, semiring)
        B[i] = _combine(logp[i + 1, NONE] + B[i + 1], emit, semiring)
    return B


def _member_scores(logp, step, end, semiring: str) -> tuple[np.ndarray, float, tuple]:
    """(n, C) scores of the namings with member i labelled c (max- or sum-marginals) and the total."""
    E, N, A, ptr = _forward(logp, step, semiring)
    B = _backward(logp, step, end, semiring)
    scores = np.concatenate([E + B[:, :_L], _reduce(N + B, 1, semiring)[:, None]], axis=1)
    return scores, float(_reduce(A[-1] + end, 0, semiring)), (E, N, A, ptr)


def _backtrack(E: np.ndarray, N: np.ndarray, A: np.ndarray, ptr: np.ndarray, end: np.ndarray) -> list[int]:
    state = int(np.argmax(A[-1] + end))
    labels = [NONE] * len(E)
    for i in range(len(E) - 1, -1, -1):
        if state < _L and E[i, state] >= N[i, state]:
            labels[i] = state
            state = int(ptr[i, state])
        # else member i is none and the state stays
    return labels


def best_labels(logp: np.ndarray, step: np.ndarray, end: np.ndarray) -> tuple[list[int], float]:
    """The best naming (class indices) and its score."""
    E, N, A, ptr = _forward(logp, step, "max")
    return _backtrack(E, N, A, ptr, end), float(np.max(A[-1] + end))


def _names(labels) -> tuple[str | None, ...]:
    return tuple(None if c == NONE else LEVELS[c] for c in labels)


def decode(logp: np.ndarray, cfg: DecodeConfig, expected: tuple[str, ...], scored: np.ndarray | None = None) -> Naming:
    """Name a chain from ``logp`` (n, len(CLASSES)) per-member log-probabilities, cranial first. ``scored``: (n,)
    bool, the members whose other labels count for the runner-up (default all; candidates placed beyond the
    chain's ends are left out, so that the margin speaks of the detected chain's naming)."""
    logp = np.asarray(logp, float)
    if logp.ndim != 2 or logp.shape[1] != len(CLASSES):
        raise ValueError(f"logp must be (n, {len(CLASSES)}) over {CLASSES}, got shape {logp.shape}")
    if len(logp) == 0:
        return Naming((), 0.0, np.inf, (), np.zeros((0, len(CLASSES))))
    logp = _with_none_cost(logp, cfg)
    step, end = transitions(cfg, expected)
    labels, best = best_labels(logp, step, end)
    maxmarg, _, _ = _member_scores(logp, step, end, "max")
    others = maxmarg.copy()
    others[np.arange(len(labels)), labels] = -np.inf
    if scored is not None:
        others[~np.asarray(scored, bool)] = -np.inf
    i, c = np.unravel_index(int(np.argmax(others)), others.shape)
    margin = best - float(others[i, c])
    forced = logp.copy()
    forced[i] = -np.inf
    forced[i, c] = logp[i, c]
    runner_up = best_labels(forced, step, end)[0] if np.isfinite(margin) else labels
    summed, total, _ = _member_scores(logp, step, end, "sum")
    posterior = np.exp(summed - total)
    return Naming(_names(labels), best, margin, _names(runner_up), posterior / posterior.sum(axis=1, keepdims=True))


def shift_between(a: tuple[str | None, ...], b: tuple[str | None, ...]) -> int | None:
    """The most common level offset (b minus a, in standard steps) over members both name; None if none."""
    offsets = [round(standard_position(y) - standard_position(x)) for x, y in zip(a, b) if x and y]
    if not offsets:
        return None
    values, counts = np.unique(offsets, return_counts=True)
    return int(values[np.argmax(counts)])


def describe_runner_up(naming: Naming) -> str:
    """A short phrase for the runner-up naming, e.g. 'every level one lower (T2-S1)'."""
    shift = shift_between(naming.labels, naming.runner_up)
    named = [x for x in naming.runner_up if x]
    span = f"{named[0]}-{named[-1]}" if named else "no vertebra"
    if shift:
        word = {1: "one", 2: "two", 3: "three"}.get(abs(shift), str(abs(shift)))
        return f"every level {word} {'lower' if shift > 0 else 'higher'} ({span})"
    differ = [(x, y) for x, y in zip(naming.labels, naming.runner_up) if x != y]
    examples = ", ".join(f"{x or 'none'} as {y or 'none'}" for x, y in differ[:3]) + (", ..." if len(differ) > 3 else "")
    return f"one naming {len(differ)} vertebra(e) otherwise ({examples})"

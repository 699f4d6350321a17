"""Name a chain's vertebrae: the trained level network, then the lattice decode, back into a :class:`Spine`.

Members decoded as no vertebra are dropped; a level the decode skips between two members (a vertebra the
detector missed) is inserted between them, its box interpolated and marked ``inferred``. Each vertebra carries
its most likely levels with their probabilities (``level_p``); the warnings say what was inserted, dropped or
named unusually (T13, L6), and when the naming is uncertain (the runner-up naming, usually the chain shifted by
one, scores within ``decode.uncertain_margin`` of the best), or, where it is not, when the chain's count alone
(the priors' names, which the chain arrives with) would name some of its vertebrae otherwise (*disputed*).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from detector.levels.chain import context_crops, extend_chain, spine_boxes, spine_features
from detector.levels.config import CropConfig, LevelsSpec
from detector.levels.decode import CLASSES, EXTRA_LEVELS, DecodeConfig, Naming, decode, describe_runner_up, shift_between, standard_position
from detector.levels.model import CropEmbedder, build_model, model_input
from spine import config as configlib
from spine.contracts import ReadsLevels
from spine.geometry import STANDARD_LEVELS, Box, Spine, Vertebra
from spine.modelfolder import load_weights, stage_meta
from spine.onnxrun import Runtime, runner
from spine.result import LEVELS_DISPUTED, LEVELS_UNCERTAIN, levels_disputed, levels_uncertain


@dataclass
class LevelIdentifier:
    """The trained level network and its decode. embed: what runs the per-member CNN (the network's own, or its
    ONNX Runtime twin on the CPU with ``runtime='onnx'``); the sequence layer and head stay in torch."""

    network: torch.nn.Module
    crop: CropConfig
    decode_cfg: DecodeConfig
    device: str = "cpu"
    runtime: Runtime = "onnx"
    embed: Callable | None = None
    film: ReadsLevels | None = None  # the whole-film level map (its evidence added to the network's)

    def __post_init__(self) -> None:
        if self.embed is None:
            self.embed = runner(CropEmbedder(self.network).eval(), self.runtime, self.device, (1, 1, self.crop.height, self.crop.width))

    @classmethod
    def load(cls, folder: str | Path, device: str = "cpu", runtime: Runtime = "onnx") -> "LevelIdentifier":
        folder = Path(folder)
        meta = stage_meta(folder, "levels")
        cfg = configlib.load_part(LevelsSpec, folder / "config.yaml")
        network = build_model(cfg.model)
        load_weights(network, folder)
        decode_cfg = replace(cfg.decode, temperature=float(meta.get("temperature", cfg.decode.temperature)))
        return cls(network.eval().to(device), cfg.crop, decode_cfg, device, runtime)

    def with_settings(self, decode_cfg: DecodeConfig, extend: int | None = None) -> "LevelIdentifier":
        """The same network with other decode costs (its fitted temperature kept) and candidates beyond the ends."""
        crop = self.crop if extend is None else replace(self.crop, extend=extend)
        return replace(self, crop=crop, decode_cfg=replace(decode_cfg, temperature=self.decode_cfg.temperature))

    @torch.no_grad()
    def log_probs(self, pixels: np.ndarray, chain: Spine, extrapolated: np.ndarray, age: float | None = None,
                  sex: str | None = None) -> np.ndarray:
        """(n, len(CLASSES)) per-member log-probabilities (temperature applied), cranial first."""
        crops = context_crops(pixels, spine_boxes(chain), self.crop).astype(np.float32) / 255.0
        features = spine_features(chain, extrapolated, pixels.shape[0], age, sex)
        x = model_input(torch.from_numpy(crops)[:, None].to(self.device))
        f = torch.from_numpy(features)[None].to(self.device)
        embedded = self.embed(x).to(self.device)[None]
        logits = self.network.from_embeddings(embedded, f, torch.ones(1, len(chain), dtype=torch.bool, device=self.device))[0]
        return torch.log_softmax(logits / self.decode_cfg.temperature, dim=-1).cpu().numpy()

    def candidates(self, pixels: np.ndarray, chain: Spine) -> tuple[Spine, np.ndarray, object | None]:
        """The chain with candidates beyond its ends (True in the flags): extrapolated from the chain, and, with a
        level map, where the map paints a level T1-L5 past the chain's ends (an extrapolated candidate there takes the
        painted box); and the map's reading (None without a map)."""
        extended, extrapolated = extend_chain(chain, pixels.shape[0], self.crop.extend)
        if self.film is None:
            return extended, extrapolated, None
        detected = spine_boxes(chain)
        levels = self.film.read(pixels, detected)
        if self.film.proposes_ends:
            extended, extrapolated = with_ends(extended, extrapolated, self.film.ends(levels, detected), levels.pitch)
        return extended, extrapolated, levels

    def name(self, pixels: np.ndarray, chain: Spine, expected: tuple[str, ...], age: float | None = None,
             sex: str | None = None) -> tuple[Spine, list[str], Naming | None]:
        """The chain named (extended by candidates beyond its ends, members dropped or inserted as decoded), its
        warnings and the decode itself."""
        if len(chain) == 0:
            return chain, [], None
        extended, extrapolated, levels = self.candidates(pixels, chain)
        logp = self.log_probs(pixels, extended, extrapolated, age, sex)
        evidence = None if levels is None else self.film.evidence(levels, spine_boxes(extended))
        warns = self.film is not None and self.film.warns
        return name_chain(extended, extrapolated, logp, self.decode_cfg, expected, pixels.shape[0], evidence, warns)


def name_chain(extended: Spine, extrapolated: np.ndarray, logp: np.ndarray, cfg: DecodeConfig, expected: tuple[str, ...],
               height: int | None = None, evidence: np.ndarray | None = None, map_warns: bool = False) -> tuple[Spine, list[str], Naming]:
    """Decode the identifier's ``logp`` plus the level map's ``evidence`` (when given) over the extended chain, apply
    the naming and say what a reader should know: with the film's ``height`` also where the expected run is cut off
    by the film's end; with ``map_warns``, when the map alone would name the chain otherwise."""
    naming = decode(logp if evidence is None else logp + evidence, cfg, expected, ~extrapolated)
    spine = apply_naming(extended, naming, extrapolated, expected)
    counted = [v.level for v in extended.vertebrae]
    warnings = naming_warnings(naming, extrapolated, spine, cfg, counted)
    if evidence is not None and map_warns and not (levels_uncertain(warnings) or levels_disputed(warnings)):
        warnings += [w for w in [map_dispute(evidence, cfg, expected, extrapolated, naming.labels)] if w]
    return spine, warnings + (end_warnings(spine, expected, height) if height else []), naming


def map_dispute(evidence: np.ndarray, cfg: DecodeConfig, expected: tuple[str, ...], extrapolated: np.ndarray,
                labels: Sequence[str | None]) -> str | None:
    """The disputed warning when the level map's evidence alone, decoded under the same priors, names a detected
    member otherwise than ``labels`` (the naming given); None when they agree."""
    alone = decode(evidence, cfg, expected, ~extrapolated).labels
    pairs = [(a, b) for a, b, extra in zip(labels, alone, extrapolated) if a and b and not extra]
    differ = [(a, b) for a, b in pairs if a != b]
    if not differ:
        return None
    shift = shift_between(tuple(a for a, _ in pairs), tuple(b for _, b in pairs))
    word = {1: "one", 2: "two", 3: "three"}.get(abs(shift or 0), str(abs(shift or 0)))
    what = (f"every level {word} {'lower' if shift > 0 else 'higher'} (the {differ[0][0]} as {differ[0][1]})" if shift
            else f"{len(differ)} of {len(pairs)} vertebrae otherwise (the {differ[0][0]} as {differ[0][1]})")
    return f"{LEVELS_DISPUTED}: the whole-film level map alone names {what}; check the levels on the film"


def end_warnings(spine: Spine, expected: tuple[str, ...], height: int) -> list[str]:
    """The expected run's levels above the first named vertebra or below the last: 'not on the film' where the
    vertebra at that end lies within a pitch of the film's edge, else 'not found'."""
    named = [v for v in spine.vertebrae if v.level in expected]
    if len(named) < 2:
        return []
    pitch = abs(named[-1].box.center[1] - named[0].box.center[1]) / max(1, len(named) - 1)
    first, last = expected.index(named[0].level), expected.index(named[-1].level)
    out = []
    for missing, edge, where, end in ((expected[:first], named[0].box.y1, "above", named[0]),
                                      (expected[last + 1:], height - named[-1].box.y2, "below", named[-1])):
        if not missing:
            continue
        span = missing[0] if len(missing) == 1 else f"{missing[0]}-{missing[-1]}"
        if edge < pitch:
            out.append(f"the film ends {where} {end.level}: {span} not on the film, so not measured")
        else:
            out.append(f"{span} not found {where} {end.level} although the film goes on; check the film's "
                       f"{'upper' if where == 'above' else 'lower'} end")
    return out


def with_ends(extended: Spine, extrapolated: np.ndarray, ends: Sequence[tuple[str, Box]], pitch: float) -> tuple[Spine, np.ndarray]:
    """The extended chain with the painted ``ends`` as candidates: each replaces the extrapolated candidate within
    half a pitch of it, else joins the chain at its height."""
    members, flags = list(extended.vertebrae), list(map(bool, extrapolated))
    for _, box in ends:
        near = [i for i, (v, extra) in enumerate(zip(members, flags)) if extra and abs(v.box.center[1] - box.center[1]) < pitch / 2]
        candidate = Vertebra(None, box, score=0.0, inferred=True)
        if near:
            members[near[0]] = candidate
        else:
            members.append(candidate)
            flags.append(True)
    order = np.argsort([v.box.center[1] for v in members], kind="stable")
    return extended.with_(vertebrae=tuple(members[i] for i in order)), np.array([flags[i] for i in order], bool)


def _top_levels(posterior: np.ndarray, k: int = 3) -> tuple[tuple[str, float], ...]:
    order = np.argsort(-posterior)[:k]
    return tuple((CLASSES[c], round(float(posterior[c]), 4)) for c in order if posterior[c] >= 0.001)


def _between(a: Vertebra, b: Vertebra, first: str, last: str) -> list[Vertebra]:
    """Vertebrae of the standard levels strictly between ``first`` and ``last``, boxes interpolated from a to b."""
    names = [n for n in STANDARD_LEVELS if standard_position(first) < standard_position(n) < standard_position(last)]
    out = []
    for k, name in enumerate(names, start=1):
        t = k / (len(names) + 1)
        box = Box(*(np.asarray(a.box.as_list()) * (1 - t) + np.asarray(b.box.as_list()) * t))
        out.append(Vertebra(name, box, score=0.0, inferred=True))
    return out


def apply_naming(chain: Spine, naming: Naming, extrapolated: np.ndarray | None = None, expected: tuple[str, ...] = ()) -> Spine:
    """The chain with the decoded names: 'none' members dropped, skipped levels inserted between neighbours.
    Candidates beyond the chain's ends (``extrapolated``) are kept only when named one of the ``expected`` levels:
    a vertebra of the expected run that the detector missed."""
    out: list[Vertebra] = []
    extrapolated = np.zeros(len(chain), bool) if extrapolated is None else extrapolated
    for v, label, posterior, extra in zip(chain.vertebrae, naming.labels, naming.posterior, extrapolated):
        if label is None or (extra and label not in expected):
            continue
        named = v.with_(level=label, level_p=_top_levels(posterior))
        if out:
            out += _between(out[-1], named, out[-1].level, label)
        out.append(named)
    return chain.with_(vertebrae=tuple(out))


def naming_warnings(naming: Naming, extrapolated: np.ndarray, spine: Spine, cfg: DecodeConfig,
                    counted: Sequence[str | None] = ()) -> list[str]:
    """What the naming did that a reader should know: uncertain (else disputed by the chain's ``counted`` names,
    one per member, when given), members dropped, vertebrae added, T13/L6."""
    warnings = []
    if naming.uncertain(cfg):
        warnings.append(f"{LEVELS_UNCERTAIN}: the names given ({_span(naming.labels)}) are hardly more likely than "
                        f"{describe_runner_up(naming)} (log-likelihood margin {naming.margin:.2f}, under "
                        f"{cfg.uncertain_margin:.1f}); check the levels on the film")
    elif (dispute := count_dispute(naming.labels, counted, extrapolated)) is not None:
        warnings.append(dispute)
    dropped = sum(label is None for label, extra in zip(naming.labels, extrapolated) if not extra)
    if dropped:
        warnings.append(f"{dropped} chain member(s) judged not to be vertebrae and dropped")
    kept = set(spine.levels)
    added = [label for label, extra in zip(naming.labels, extrapolated) if extra and label in kept]
    if added:
        warnings.append(f"{len(added)} vertebra(e) beyond the ends of the detected chain added: {', '.join(added)}")
    inserted = [v.level for v in spine.vertebrae if v.inferred and v.level not in added]
    if inserted:
        warnings.append(f"{len(inserted)} vertebra(e) not detected, inferred between neighbours: {', '.join(inserted)}")
    for extra in (n for n in naming.labels if n in EXTRA_LEVELS):
        warnings.append(f"{extra} named: {'a thirteenth thoracic' if extra == 'T13' else 'a sixth lumbar'} vertebra "
                        "(transitional anatomy); check the count on the film")
    return warnings


def count_dispute(labels: Sequence[str | None], counted: Sequence[str | None], extrapolated: np.ndarray) -> str | None:
    """The disputed warning when a detected member's decoded name differs from the name the chain's count gave it
    (members the decode dropped, candidates beyond the ends and members the count left unnamed are not compared);
    None when they agree or nothing was counted."""
    pairs = [(a, b) for a, b, extra in zip(labels, counted, extrapolated) if a and b and not extra]
    differ = [(a, b) for a, b in pairs if a != b]
    if not differ:
        return None
    named, count = differ[0]
    return (f"{LEVELS_DISPUTED}: counted from the chain alone, {len(differ)} of its {len(pairs)} vertebrae would be "
            f"named otherwise (the identifier's {named} as {count}); check the levels on the film")


def _span(labels) -> str:
    named = [x for x in labels if x]
    return f"{named[0]}-{named[-1]}" if named else "no vertebra"

"""Train the level identifier: ``python -m detector.levels.training.train --config configs/levels.yaml [--set key=value]``.

The detector named in the config (and its priors) finds the chains of the training films (AASCE films of the
saved patient split's training side, phantoms); each member is labelled by its true vertebra or by anatomy
(:mod:`detector.levels.training.data`). A share of the training patients is held back to pick the best epoch and to fit
the temperature of the logits. The validation films of the split are never seen here; the model folder's
validation figures come from them after training.
"""

from __future__ import annotations

import sys
from pathlib import Path

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from detector.levels.decode import CLASSES
from detector.levels.model import build_model, model_input
from detector.levels.training.cache import cached_chains
from detector.levels.training.config import ChainAugmentConfig, LevelsConfig, held_out
from detector.levels.training.data import UNKNOWN, ChainSample, refeature
from spine.modelfolder import save_model_folder, update_meta
from spine.research.datasets.sources import crop_stage_sets
from spine.research.pretrained import imagenet_start
from spine.research.training import TrainResult, best_state, epochs_record, fit, seeded, stage_main


def augment_chain(s: ChainSample, cfg: ChainAugmentConfig, rng: np.random.Generator):
    """(crops (n, H, W) float [0, 1], features, labels) of a randomly shortened, mirrored, re-contrasted chain."""
    keep = np.arange(len(s))
    if len(keep) > 6 and rng.random() < cfg.drop_end:
        keep = keep[int(rng.integers(1, cfg.max_drop + 1)):]
    if len(keep) > 6 and rng.random() < cfg.drop_end:
        keep = keep[: len(keep) - int(rng.integers(1, cfg.max_drop + 1))]
    if len(keep) > 6 and rng.random() < cfg.drop_inside:
        keep = np.delete(keep, int(rng.integers(1, len(keep) - 1)))
    crops = s.crops[keep].astype(np.float32) / 255.0
    if rng.random() < cfg.hflip:
        crops = crops[:, :, ::-1]
    if rng.random() < cfg.intensity:
        gamma, gain, bias = np.exp(rng.normal(0, 0.25)), rng.uniform(0.8, 1.2), rng.uniform(-0.1, 0.1)
        crops = np.clip((crops ** gamma) * gain + bias + rng.normal(0, 0.02, crops.shape), 0, 1)
    features = refeature(s.features[keep], s.boxes[keep], s.height) if len(keep) < len(s) else s.features
    return np.ascontiguousarray(crops, np.float32), features, s.labels[keep]


class ChainDataset(Dataset):
    """Items: crops (n, 1, H, W) float in [0, 1], features (n, F), labels (n,) class index or UNKNOWN."""

    def __init__(self, samples: list[ChainSample], augment: ChainAugmentConfig | None = None, seed: int = 0):
        self.samples, self.augment = samples, augment
        self.rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int) -> dict:
        s = self.samples[i]
        if self.augment is not None:
            crops, features, labels = augment_chain(s, self.augment, self.rng)
        else:
            crops, features, labels = s.crops.astype(np.float32) / 255.0, s.features, s.labels
        return {"crops": torch.from_numpy(crops)[:, None], "features": torch.from_numpy(np.asarray(features, np.float32)),
                "labels": torch.from_numpy(np.asarray(labels, np.int64))}


def collate(items: list[dict]) -> dict:
    """Pad chains to the longest: crops (B, n, 1, H, W), features (B, n, F), labels (B, n) (UNKNOWN where padded),
    valid (B, n) bool."""
    n = max(len(item["labels"]) for item in items)
    out = {"crops": torch.zeros((len(items), n) + items[0]["crops"].shape[1:]),
           "features": torch.zeros(len(items), n, items[0]["features"].shape[1]),
           "labels": torch.full((len(items), n), UNKNOWN, dtype=torch.long), "valid": torch.zeros(len(items), n, dtype=torch.bool)}
    for b, item in enumerate(items):
        k = len(item["labels"])
        out["crops"][b, :k], out["features"][b, :k], out["labels"][b, :k] = item["crops"], item["features"], item["labels"]
        out["valid"][b, :k] = True
    return out


class LevelModule(L.LightningModule):
    def __init__(self, cfg: LevelsConfig):
        super().__init__()
        self.cfg = cfg
        self.model = imagenet_start(build_model(cfg.model), cfg.model.pretrained)

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(model_input(batch["crops"]), batch["features"], batch["valid"])

    def _step(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self(batch)
        known = batch["labels"] != UNKNOWN
        loss = F.cross_entropy(logits[known], batch["labels"][known], label_smoothing=0.05)
        accuracy = (logits[known].argmax(-1) == batch["labels"][known]).float().mean()
        return loss, accuracy

    def training_step(self, batch: dict, _index: int) -> torch.Tensor:
        loss, accuracy = self._step(batch)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["labels"]))
        return loss

    def validation_step(self, batch: dict, _index: int) -> None:
        loss, accuracy = self._step(batch)
        self.log("val_loss", loss, prog_bar=True, batch_size=len(batch["labels"]), sync_dist=True)
        self.log("val_member_accuracy", accuracy, prog_bar=True, batch_size=len(batch["labels"]), sync_dist=True)

    def configure_optimizers(self):
        t = self.cfg.train
        optimizer = torch.optim.AdamW(self.parameters(), lr=t.lr, weight_decay=t.weight_decay)
        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, t.epochs))}


class ChainDataModule(L.LightningDataModule):
    def __init__(self, train: list[ChainSample], calibration: list[ChainSample], cfg: LevelsConfig):
        super().__init__()
        self.train_samples, self.calibration, self.cfg = train, calibration, cfg

    def train_dataloader(self) -> DataLoader:
        t = self.cfg.train
        return DataLoader(ChainDataset(self.train_samples, self.cfg.augment, t.seed), batch_size=t.batch, shuffle=True,
                          collate_fn=collate, num_workers=t.num_workers, drop_last=len(self.train_samples) > t.batch)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(ChainDataset(self.calibration), batch_size=self.cfg.train.batch, collate_fn=collate,
                          num_workers=self.cfg.train.num_workers)


def split_calibration(samples: list[ChainSample], fraction: float) -> tuple[list[ChainSample], list[ChainSample]]:
    """(fit, calibration) by patient (:func:`held_out`)."""
    aside = [held_out(s.patient, fraction) for s in samples]
    fit_set, calibration = [s for s, a in zip(samples, aside) if not a], [s for s, a in zip(samples, aside) if a]
    return (fit_set, calibration) if fit_set else (calibration, [])


@torch.no_grad()
def fit_temperature(model: torch.nn.Module, samples: list[ChainSample]) -> float:
    """The logit temperature that minimises the calibration films' negative log-likelihood (1.0 without films)."""
    from scipy.optimize import minimize_scalar

    model.eval()
    logits, labels = [], []
    for item in (ChainDataset(samples)[i] for i in range(len(samples))):
        batch = collate([item])
        logits.append(model(model_input(batch["crops"]), batch["features"], batch["valid"])[0])
        labels.append(batch["labels"][0])
    if not logits:
        return 1.0
    z, y = torch.cat(logits), torch.cat(labels)
    z, y = z[y != UNKNOWN], y[y != UNKNOWN]
    result = minimize_scalar(lambda log_t: float(F.cross_entropy(z / np.exp(log_t), y)), bounds=(-2, 2), method="bounded")
    return float(np.exp(result.x))


def detector_key(folder: str | Path) -> str:
    """Identity of the detector whose chains are cached: its weights' size and modification time."""
    weights = Path(folder) / "weights.safetensors"
    return f"{Path(folder).resolve()}:{weights.stat().st_size}:{int(weights.stat().st_mtime)}" if weights.exists() else str(folder)


def meta_for(cfg: LevelsConfig, described: dict, temperature: float) -> dict:
    return {"stage": "levels", "format": "spine-levels/1", "classes": list(CLASSES), "temperature": temperature,
            "input": {"crop": {"span_pitches": cfg.crop.span, "height": cfg.crop.height, "width": cfg.crop.width},
                      "intensity": "grey in [0, 1] mapped to [-1, 1]", "features": "see detector.levels.training.data.FEATURES"},
            "output": f"per chain member, logits over {len(CLASSES)} classes (levels and 'none'); divide by the "
                      "temperature, then the lattice decode", "detector": cfg.detector, "trained_on": described}


def train(cfg: LevelsConfig) -> TrainResult:
    from detector.chain import chain_finder
    from detector.levels.predict import LevelIdentifier
    from detector.levels.training.evaluate import evaluate_naming

    run_dir = (Path(cfg.output) / cfg.name).resolve()
    train_films, val_films, described = crop_stage_sets(cfg.data, cfg.train.max_train_films, cfg.train.max_val_films)
    if not train_films:
        raise RuntimeError("no training films: point data.root at the shared data or set data.phantoms > 0")
    detector = cfg.data.repo_path(cfg.detector)
    chains = cached_chains(train_films, chain_finder(detector), cfg.crop, cfg.data.repo_path(cfg.cache), detector_key(detector), True)
    fit_set, calibration = split_calibration(chains, cfg.calibration_fraction)
    module = seeded(cfg.train, lambda: LevelModule(cfg))
    best = fit(module, ChainDataModule(fit_set, calibration or fit_set[:2], cfg), cfg.train, run_dir, "val_loss", "min")
    if best is None:
        return TrainResult(None, {})
    module.model.load_state_dict(best_state(best))
    temperature = fit_temperature(module.model, calibration)
    described = {**described, "chains": {"fit": len(fit_set), "calibration": len(calibration)}}
    folder = save_model_folder(run_dir / "model", best_state(best), cfg,
                               {**meta_for(cfg, described, temperature), "epochs": epochs_record(best, cfg.train.epochs)})
    finder = chain_finder(detector)
    finder.levels = LevelIdentifier.load(folder)
    metrics = evaluate_naming(finder, val_films)
    update_meta(folder, validation=metrics)
    return TrainResult(folder, metrics)


def main(argv: list[str] | None = None) -> int:
    return stage_main(argv, "detector.levels", "Train the level identifier.", LevelsConfig, train, "configs/levels.yaml")


if __name__ == "__main__":
    sys.exit(main())

"""Shared training plumbing for the Lightning stages: fit with resumable checkpoints, state extraction."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import lightning as L
import torch


@dataclass(frozen=True)
class LightningTrainConfig:
    """Training settings of a Lightning stage. devices/strategy/accelerator pass straight to Lightning (e.g. 2,
    ddp, gpu); crops_per_epoch samples that many crops per epoch (None: all); threads caps torch's CPU threads;
    init: a model folder of the same stage and architecture whose weights start the network (fine-tuning; None:
    the configured pretrained encoder or random weights)."""

    epochs: int = 12
    batch: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    accelerator: str = "cpu"
    devices: int = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_workers: int = 0
    seed: int = 0
    max_train_films: int | None = None
    max_val_films: int | None = None
    crops_per_epoch: int | None = None
    threads: int | None = None
    init: str | None = None


@dataclass
class TrainResult:
    """What a stage's ``train(cfg)`` returns: its model folder and validation figures."""

    folder: Path
    metrics: dict


def seeded(t, build):
    """``build()`` (a stage's LightningModule) after seeding every generator with ``t.seed``, so that the randomly
    initialised layers, and with them the whole run, are the same each time."""
    L.seed_everything(t.seed, workers=True)
    return build()


def fit(module: L.LightningModule, data: L.LightningDataModule, t, run_dir: Path, monitor: str, mode: str) -> Path | None:
    """Lightning fit with checkpoints in ``run_dir`` (resumes from last.ckpt); returns the best checkpoint
    (None on the non-zero ranks of a multi-process run)."""
    from lightning.pytorch.callbacks import ModelCheckpoint

    if t.threads:
        torch.set_num_threads(t.threads)
    if t.init:
        start_from(module, t.init)
    L.seed_everything(t.seed, workers=True)
    ckpt = ModelCheckpoint(dirpath=run_dir / "checkpoints", monitor=monitor, mode=mode, save_last=True, save_top_k=1)
    trainer = L.Trainer(max_epochs=t.epochs, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
                        precision=t.precision, callbacks=[ckpt], default_root_dir=str(run_dir), log_every_n_steps=10,
                        enable_model_summary=False, logger=L.pytorch.loggers.CSVLogger(str(run_dir), name="logs"))
    last = run_dir / "checkpoints" / "last.ckpt"
    trainer.fit(module, datamodule=data, ckpt_path=str(last) if last.exists() else None)
    if trainer.global_rank != 0:  # under DDP only rank 0 goes on to write the model folder
        return None
    return Path(ckpt.best_model_path or last)


def start_from(module: L.LightningModule, folder: str | Path) -> None:
    """Load a model folder's weights into ``module.model``: every layer of the network must be in the folder with
    its shape (same stage, same architecture, or one the folder's network holds, e.g. a heatmap head stopping a
    decoder block early); layers only the folder has are left out, with a warning naming them."""
    import warnings

    from spine.modelfolder import load_state
    from spine.paths import REPO_ROOT

    folder = Path(folder) if Path(folder).is_absolute() or Path(folder).exists() else REPO_ROOT / folder
    state = load_state(folder)
    own = module.model.state_dict()
    extra = sorted(set(state) - set(own))
    if extra:
        warnings.warn(f"{folder}: {len(extra)} weights the network does not have are left out: "
                      f"{', '.join(sorted({k.rsplit('.', 2)[0] for k in extra}))}", stacklevel=2)
    module.model.load_state_dict({k: v for k, v in state.items() if k in own})


def epochs_record(best: Path, configured: int) -> dict:
    """What a model folder records of its run: epochs configured, trained (the run's last checkpoint) and the epoch
    the model is from (``best``)."""
    def epoch(path: Path) -> int:
        return int(torch.load(path, map_location="cpu", weights_only=False).get("epoch", -1)) + 1

    last = Path(best).parent / "last.ckpt"
    return {"configured": configured, "trained": epoch(last if last.exists() else best), "model_from": epoch(best)}


def best_state(path: Path, prefix: str = "model.") -> dict:
    """The network's state dict from a Lightning checkpoint this run wrote."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    return {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}


def stage_main(argv: list[str] | None, stage: str, description: str, config_cls, train_fn, config: str | None = None,
               module: str | None = None) -> int:
    """The command line of a stage's training (``python -m <module>``, default <stage>.train): --config (default
    ``config``, else configs/<stage>.yaml), --set (repeatable), --override (an ablation file)."""
    import argparse
    import json

    from spine import config as configlib
    from spine.offline import configure

    configure()
    parser = argparse.ArgumentParser(prog=f"python -m {module or stage + '.train'}", description=description)
    config = config or f"configs/{stage}.yaml"
    parser.add_argument("--config", default=config, help=f"stage config YAML (default {config})")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override one config key, e.g. train.epochs=5 (repeatable)"
    )
    parser.add_argument("--override", help="an ablation override file: only the keys it changes")
    args = parser.parse_args(argv)
    extra = configlib.read_yaml(args.override).get("overrides", {}) if args.override else None
    result = train_fn(configlib.load(config_cls, args.config, args.set, extra))
    if result.folder is None:
        return 0  # a non-zero rank of a multi-process run
    print(f"model folder: {result.folder}")
    print(json.dumps(result.metrics, indent=2))
    return 0

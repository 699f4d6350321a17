"""Train detector, level identifier, level map, segmenter and keypoints in order from one config into one model set.

    python -m pipeline.train_all [--config configs/pipeline.yaml] [--profile cpu|full|tiny]
                                 [--set STAGE.key=value ...] [--devices N] [--strategy ddp]

Each stage runs as its own process (``python -m <stage>.train``; the level
identifier is ``detector.levels.training.train`` and learns the run's own detector's chains), so several
devices (Lightning DDP, ultralytics multi-GPU) work stage by stage. Output:
``<output>/<name>/<stage>/`` per stage, the model set in ``<output>/<name>/model``
and a log in ``<output>/<name>/train_all.log``. Re-running continues: a stage
with a finished model folder is skipped, an interrupted one resumes from its
last checkpoint.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.modelset import InferenceOptions
from pipeline.stages import BY_NAME  # noqa: E402
from pipeline.stages import STAGES as REGISTRY
from spine import config as configlib
from spine.files import atomic_write_json
from spine.geometry import CORNERS
from spine.int8 import CROP_STAGES
from spine.modelfolder import code_version, read_meta
from spine.paths import REPO_ROOT

STAGES = tuple(s.name for s in REGISTRY)


@dataclass(frozen=True)
class StagePaths:
    detector: str = "configs/detector.yaml"
    levels: str = "configs/levels.yaml"
    levelmap: str = "configs/levelmap.yaml"
    segmenter: str = "configs/segmenter.yaml"
    keypoints: str = "configs/keypoints.yaml"


@dataclass(frozen=True)
class PipelineConfig:
    name: str = "default"
    output: str = "runs/pipeline"
    profile: str = "cpu"
    stages: StagePaths = field(default_factory=StagePaths)
    data: dict = field(default_factory=dict)
    options: InferenceOptions = field(default_factory=InferenceOptions)
    int8: tuple[str, ...] = ("segmenter", "keypoints")

    def validate(self) -> None:
        unknown = set(self.int8) - set(CROP_STAGES)
        if unknown:
            raise configlib.ConfigError(f"int8: {sorted(unknown)} are not crop stages ({', '.join(CROP_STAGES)})")


def flatten(tree: dict, prefix: str = "") -> list[str]:
    """{'a': {'b': 1}} -> ['a.b=1'] (values as YAML flow text)."""
    import yaml

    out = []
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            out += flatten(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}")
    return out


def stage_sets(
    stage: str, cfg: PipelineConfig, profile: dict, user_sets: list[str], devices: int | None, strategy: str | None
) -> list[str]:
    """The --set items of one stage: its run folder, the profile, the shared data keys, devices, then the user's."""
    run = Path(cfg.output) / cfg.name
    items = [f"name={stage}", f"output={run}"] + ([f"detector={run / 'detector' / 'model'}"] if stage == "levels" else [])
    items += flatten(profile.get(stage) or {})
    items += flatten({"data": cfg.data}) if cfg.data else []
    if devices:
        if stage == "detector":
            items.append(f"train.device={','.join(str(i) for i in range(devices))}" if devices > 1 else "train.device=cpu")
        else:
            items += [f"train.devices={devices}"] + ([f"train.strategy={strategy}"] if strategy else [])
    items += [s.split(".", 1)[1] for s in user_sets if s.startswith(stage + ".")]
    return items


def run_stage(stage: str, config_path: str, sets: list[str], log_path: Path) -> None:
    """Run one stage's training as a child process; its output goes to the console and the log."""
    run_logged(stage, ["-m", BY_NAME[stage].train, "--config", config_path] + [a for s in sets for a in ("--set", s)], log_path)


def run_logged(step: str, arguments: list[str], log_path: Path) -> None:
    """``python ARGUMENTS`` as a child process in the repository; its output goes to the console and the log."""
    command = [sys.executable, *arguments]
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n=== {step}: {' '.join(command)}\n")
        log.flush()
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
        if process.wait() != 0:
            raise RuntimeError(f"{step} failed (exit {process.returncode}); see {log_path}")


def assemble(cfg: PipelineConfig, run: Path, sources: dict[str, Path] | None = None) -> Path:
    """Copy each stage's model folder (``<run>/<stage>/model``, or the folders ``sources`` names) into <run>/model
    and describe the set."""
    model = run / "model"
    model.mkdir(parents=True, exist_ok=True)
    metas = {}
    for stage in STAGES:
        source = Path((sources or {}).get(stage) or run / stage / "model")
        if not (source / "meta.json").exists() and BY_NAME[stage].optional:
            continue
        if (model / stage).exists():
            shutil.rmtree(model / stage)
        shutil.copytree(source, model / stage)
        metas[stage] = read_meta(source)
    detector_cfg = configlib.read_yaml(model / "detector" / "config.yaml")
    options = configlib.to_dict(cfg.options)
    options["priors_ap"] = detector_cfg.get("priors", options["priors_ap"])
    configlib.dump(configlib.build(InferenceOptions, options), model / "pipeline.yaml")
    atomic_write_json(
        model / "meta.json",
        {
            "stage": "pipeline",
            "format": "spine-model-set/1",
            "name": cfg.name,
            "profile": cfg.profile,
            "code_version": code_version(),
            "corner_order": list(CORNERS),
            "stages": {
                s: {
                    "trained_on": m.get("trained_on"),
                    "input": m.get("input"),
                    "code_version": m.get("code_version"),
                    "validation": m.get("validation"),
                    "epochs": m.get("epochs"),
                    **{k: v for k, v in m.items() if k.startswith("validation_")},
                }
                for s, m in metas.items()
            },
        },
    )
    return model


def run_folder(cfg: PipelineConfig) -> Path:
    """Where a pipeline run writes: <output>/<name>, the output folder relative to the repository unless absolute."""
    return Path(cfg.output) / cfg.name if Path(cfg.output).is_absolute() else REPO_ROOT / cfg.output / cfg.name


def train_all(cfg: PipelineConfig, user_sets: list[str] = (), devices: int | None = None, strategy: str | None = None) -> Path:
    run = run_folder(cfg)
    run.mkdir(parents=True, exist_ok=True)
    profile = configlib.read_yaml(REPO_ROOT / "configs" / "profiles" / f"{cfg.profile}.yaml")
    for stage in STAGES:
        if (run / stage / "model" / "meta.json").exists() and "validation" in read_meta(run / stage / "model"):
            print(f"[train_all] {stage}: done already ({run / stage / 'model'}), skipped")
            continue
        print(f"[train_all] {stage}: training")
        run_stage(
            stage, getattr(cfg.stages, stage), stage_sets(stage, cfg, profile, list(user_sets), devices, strategy), run / "train_all.log"
        )
    model = finish(cfg, assemble(cfg, run))
    print(f"[train_all] model set: {model}")
    return model


def finish(cfg: PipelineConfig, model: Path) -> Path:
    """The assembled set's ``int8`` stages quantised (calibrated on their training films) and switched to int8, by
    ``python -m pipeline.quantize`` in its own process."""
    if cfg.int8:
        run_logged("int8", ["-m", "pipeline.quantize", "--models", str(model), "--stages", *cfg.int8], model.parent / "train_all.log")
        print(f"[train_all] int8 twins of {', '.join(cfg.int8)} written and in use")
    return model


def main(argv: list[str] | None = None) -> int:
    from spine.offline import configure

    configure()
    parser = argparse.ArgumentParser(prog="python -m pipeline.train_all", description=__doc__.strip().splitlines()[0])
    parser.add_argument("--config", default="configs/pipeline.yaml", help="pipeline config (default configs/pipeline.yaml)")
    parser.add_argument("--profile", help="override the config's profile: cpu, full or tiny (configs/profiles/)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a pipeline key (name=x) or a stage key (detector.train.epochs=5); repeatable",
    )
    parser.add_argument("--devices", type=int, help="devices per stage: Lightning devices, ultralytics GPU list 0..N-1")
    parser.add_argument("--strategy", help="Lightning strategy for several devices, e.g. ddp")
    parser.add_argument("--assemble", nargs="+", metavar="STAGE=FOLDER",
                        help="train nothing: assemble the model set from these stage model folders (e.g. levels=runs/levels/model)")
    args = parser.parse_args(argv)
    own = [s for s in args.set if s.split("=", 1)[0].split(".", 1)[0] not in STAGES]
    cfg = configlib.load(PipelineConfig, args.config, own + ([f"profile={args.profile}"] if args.profile else []))
    if args.assemble:
        sources = dict(item.split("=", 1) for item in args.assemble)
        run = run_folder(cfg)
        print(f"[train_all] model set: {finish(cfg, assemble(cfg, run, {k: Path(v) for k, v in sources.items()}))}")
        return 0
    train_all(cfg, [s for s in args.set if s not in own], args.devices, args.strategy)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Trains the pipeline stage by stage into a run directory.

    python -m keras_t2v.train                                   # quick preset, every stage, then the report
    python -m keras_t2v.train --preset tiny --run-dir runs/tiny
    python -m keras_t2v.train --stage words,vae --set vae.epochs=20 --resume
    python -m keras_t2v.train --strategy mirrored                 # every local GPU
    TF_CONFIG='{"cluster": {"worker": ["host1:2222", "host2:2222"]}, "task": {"type": "worker", "index": 0}}' \
        python -m keras_t2v.train --strategy multiworker          # the same command on every worker

Stages run in order (words -> vae -> joint -> stackgan -> stackgan2 -> vgan); a stage whose
finished model exists is skipped unless --force. StackGAN Stage-II (stackgan2, 4x the frame size)
is part of `all` when stackgan.stage2 is true, or asked for by name.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from keras_t2v.config import PRESETS, ConfigError, labelled_settings, resolve_config  # noqa: E402
from keras_t2v.distribute import make_strategy, worker_run_dir  # noqa: E402
from keras_t2v.runs import Run  # noqa: E402

STAGES = ("words", "vae", "joint", "stackgan", "stackgan2", "vgan")


def record_time(run: Run, step: str, seconds: float, resumed: bool = False) -> None:
    """Writes `step`'s wall-clock seconds to <run>/timings.json (a resumed stage's add to what it
    took before), with the machine it ran on: what the model card reports as training time."""
    from keras_t2v.bench import machine_name

    path = run.root / "timings.json"
    timings = json.loads(path.read_text()) if path.exists() else {"machine": machine_name(), "seconds": {}}
    timings["seconds"][step] = round((timings["seconds"].get(step, 0.0) if resumed else 0.0) + seconds, 1)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(timings, indent=1))
    os.replace(tmp, path)


def run_stage(name: str, run: Run, resume: bool, force: bool):
    from keras_t2v.models import stackgan2_training, stackgan_training, vgan_training
    from keras_t2v.text import joint_training, training

    if name == "words":
        return training.train_words(run, force=force)
    if name == "vae":
        return training.train_vae(run, resume=resume, force=force)
    if name == "joint":
        return joint_training.train_joint(run, resume=resume, force=force)
    if name == "stackgan":
        return stackgan_training.train_stackgan(run, resume=resume, force=force)
    if name == "stackgan2":
        return stackgan2_training.train_stackgan2(run, resume=resume, force=force)
    return vgan_training.train_vgan(run, resume=resume, force=force)


def check_labels(config) -> None:
    """Raises ConfigError, before any stage trains, when imported clips meet settings that need labels."""
    from keras_t2v.data.records import is_shapes

    needs = labelled_settings(config)
    if needs and not is_shapes(config.data):
        raise ConfigError(f"{', '.join(needs)} learn from attribute labels, which the imported clips at {config.data.path} "
                          "do not have: train with --preset baseline, or switch these off with --set")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default=None, help=f"{' | '.join(PRESETS)} (default quick)")
    parser.add_argument("--config", default=None, help="YAML config (partial files start from their preset)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="section.key=value")
    parser.add_argument("--stage", default="all", help=f"all, or a comma-separated list of {', '.join(STAGES)}")
    parser.add_argument("--run-dir", default=None, help="default runs/<preset>")
    parser.add_argument("--resume", action="store_true", help="continue a stage from its newest checkpoint")
    parser.add_argument("--force", action="store_true", help="retrain stages whose finished model exists")
    parser.add_argument("--seed", type=int, default=None, help="training seed (train.seed)")
    parser.add_argument("--strategy", default=None, choices=("default", "mirrored", "multiworker"),
                        help="tf.distribute strategy (train.strategy): mirrored = all local devices, multiworker = from TF_CONFIG")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of every stage run (overrides <stage>.epochs)")
    parser.add_argument("--no-evaluate", action="store_true", help="skip the evaluation report after --stage all")
    parser.add_argument("--eval-n", type=int, default=512, help="captions per split in the evaluation report")
    args = parser.parse_args(argv)

    stages = STAGES if args.stage == "all" else tuple(s.strip() for s in args.stage.split(","))
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage {', '.join(unknown)}; choose all or from {', '.join(STAGES)}")
    try:
        config = resolve_config(args.preset, args.config, args.overrides, args.seed)
        if args.stage == "all" and not config.stackgan.stage2:
            stages = tuple(s for s in stages if s != "stackgan2")
        if args.epochs is not None:
            for stage in stages:
                if stage == "stackgan2":
                    config.stackgan.stage2_epochs = args.epochs
                elif hasattr(getattr(config, stage), "epochs"):
                    getattr(config, stage).epochs = args.epochs
        if args.strategy is not None:
            config.train.strategy = args.strategy
        check_labels(config)
        run_dir = worker_run_dir(args.run_dir or f"runs/{config.preset}", make_strategy(config.train.strategy))
        run = Run.open(run_dir, config, resume=args.resume)
    except ConfigError as err:
        parser.error(str(err))
    print(f"run directory: {run.root}\nTensorBoard:   tensorboard --logdir {run.root / 'logs'}", flush=True)
    if run.config.train.strategy != "default":
        print(f"tf.distribute: {run.config.train.strategy}, {run.strategy.num_replicas_in_sync} replicas", flush=True)
    for stage in stages:
        result = run_stage(stage, run, args.resume, args.force)
        print(result.summary(), flush=True)
        if not result.skipped:
            record_time(run, stage, result.seconds, resumed=args.resume)
    if args.stage == "all" and not args.no_evaluate:
        from keras_t2v.data.records import is_shapes
        from keras_t2v.evaluate import evaluate

        if not is_shapes(run.config.data):
            print("[evaluate] skipped: the evaluation measures Captioned Moving Shapes attributes; this run trains on imported clips")
            return 0
        start = time.time()
        evaluate(str(run.root), n=args.eval_n)
        record_time(run, "evaluate", time.time() - start)
        print(f"[evaluate] report: {run.root / 'report' / 'README.md'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

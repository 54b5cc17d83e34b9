"""The run directory: one folder per run with its resolved config, stages, logs and samples.

    runs/<name>/config.yaml       the resolved config (seed included)
    runs/<name>/<stage>/          the stage's finished model(s) and checkpoints/
    runs/<name>/logs/<stage>/     TensorBoard event files
    runs/<name>/cache/            sentence vectors and other derived data
"""

from __future__ import annotations

from pathlib import Path

from keras_t2v.config import Config, ConfigError, flatten, load_config, save_config
from keras_t2v.precision import with_resolved_precision


# How a run is trained, not what it trains: a run may be resumed with other values.
RUNTIME_KEYS = ("train.strategy", "train.eval_every", "train.eval_n", "train.evaluator_dir")
# How long the checkpointed stages train: raised with --resume, a stage continues from its newest
# checkpoint, finished or not (words, trained by gensim in one go, is not among them).
EPOCH_KEYS = ("vae.epochs", "joint.epochs", "stackgan.epochs", "stackgan.stage2_epochs", "vgan.epochs")


def config_differences(a: Config, b: Config, ignore=()) -> list[str]:
    """'key: a -> b' for every field that differs, except RUNTIME_KEYS and `ignore`."""
    fa, fb = flatten(a), flatten(b)
    return [f"{k}: {fa[k]!r} -> {fb[k]!r}" for k in fa if fa[k] != fb[k] and k not in (*RUNTIME_KEYS, *ignore)]


class Run:
    """A run directory bound to its config."""

    def __init__(self, root: str | Path, config: Config):
        self.root = Path(root)
        self.config = config

    @classmethod
    def open(cls, root: str | Path, config: Config, resume: bool = False) -> "Run":
        """Creates the run, or reopens it when its saved config is the same (train.precision "auto"
        resolved for this machine first, so config.yaml records what was trained).

        A different config in an existing run is refused with the differing keys named, so two
        experiments never share a directory. With `resume`, EPOCH_KEYS may rise (train longer):
        the saved config then records the new lengths.
        """
        root = Path(root)
        config = with_resolved_precision(config)
        saved_path = root / "config.yaml"
        if saved_path.exists():
            saved = load_config(saved_path)
            old, new = flatten(saved), flatten(config)
            longer = [k for k in EPOCH_KEYS if new[k] > old[k]]
            differences = config_differences(saved, config, ignore=longer if resume else ())
            if differences:
                hint = "; to train a stage longer, raise its epochs with --resume" if longer and not resume else ""
                raise ConfigError(
                    f"{root} was made with another config ({'; '.join(differences)}); "
                    f"use another --run-dir or the same settings{hint}"
                )
            if longer:  # with resume: the run now trains longer
                save_config(config, saved_path)
        else:
            root.mkdir(parents=True, exist_ok=True)
            save_config(config, saved_path)
        return cls(root, config)

    @classmethod
    def load(cls, root: str | Path) -> "Run":
        root = Path(root)
        return cls(root, load_config(root / "config.yaml"))

    @property
    def strategy(self):
        """The tf.distribute strategy of `train.strategy` (one per process)."""
        from keras_t2v.distribute import make_strategy

        return make_strategy(self.config.train.strategy)

    def stage_output(self, stage: str, name: str, needed_by: str) -> Path:
        """<run>/<stage>/<name>, a finished stage's file that `needed_by` reads; FileNotFoundError
        naming the file and the stage to train when it is missing."""
        path = self.root / stage / name
        if not path.exists():
            raise FileNotFoundError(f"{path}: missing, needed by {needed_by}; train the '{stage}' stage first")
        return path

    def stage_dir(self, stage: str) -> Path:
        path = self.root / stage
        path.mkdir(parents=True, exist_ok=True)
        return path

    def log_dir(self, stage: str) -> Path:
        return self.root / "logs" / stage

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

"""What every trained stage shares: skip/resume rules, `fit` with checkpoints, final saves."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import sys

import keras

from keras_t2v.checkpoints import CheckpointManager, EpochCheckpoint, NaNGuard, TrainingDiverged, save_model_atomically
from keras_t2v.distribute import distributed_fit, is_multiworker
from keras_t2v.precision import resolve_precision
from keras_t2v.runs import Run


@dataclasses.dataclass
class StageResult:
    stage: str
    seconds: float
    logs: dict
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"[{self.stage}] finished model found, skipped (--force retrains)"
        losses = ", ".join(f"{k} {v:.4g}" for k, v in self.logs.items())
        return f"[{self.stage}] {self.seconds:.1f} s; {losses}"


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    options = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}
    if name not in options:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(options)}")
    return options[name](learning_rate=learning_rate)


def open_stage(run: Run, stage: str, final_name: str, resume: bool, force: bool, epochs: int,
               monitor: str | None = None, mode: str = "min"):
    """(stage dir, checkpoint manager, final model path, skip) for a stage trained with `fit` for `epochs`.
    With `monitor` (a validation metric of the logs), checkpoints/best.keras keeps the best epoch.

    Skips a finished stage unless `force`, or `resume` with more `epochs` than its newest checkpoint
    (train longer); refuses to silently restart an interrupted one; seeds Python, NumPy and
    TensorFlow with `train.seed` for the stage it opens.
    """
    out = run.stage_dir(stage)
    final = out / final_name
    manager = CheckpointManager(out / "checkpoints", keep=run.config.train.keep_checkpoints, monitor=monitor, mode=mode)
    latest = manager.latest()
    longer = resume and latest is not None and latest[0] < epochs
    if final.exists() and not force and not longer:
        return out, manager, final, True
    if force:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        final.unlink(missing_ok=True)
    elif latest is not None and not resume:
        raise RuntimeError(f"{out}/checkpoints holds an interrupted run: pass --resume to continue it or --force to start over")
    keras.utils.set_random_seed(run.config.train.seed)
    return out, manager, final, False


def fit_stage(run: Run, stage: str, model, manager: CheckpointManager, train, validation, epochs: int, initial_epoch: int,
              extra_callbacks=(), watch=("loss",), steps_per_epoch=None, evaluation=None):
    """`model.fit` with the NaN guard on the `watch`ed losses, atomic checkpoints and TensorBoard;
    returns the final logs. `evaluation` (a callback adding eval_* to the epoch's logs) runs before
    the checkpoint and TensorBoard callbacks so both see its numbers. Under
    MultiWorkerMirroredStrategy: `distributed_fit` (where `train` may be a function of the input
    context, see there), no validation."""
    guard = NaNGuard(stage, watch)
    callbacks = [
        guard,
        *([evaluation] if evaluation is not None else []),
        EpochCheckpoint(manager, run.config.train.checkpoint_every, epochs),
        keras.callbacks.TensorBoard(str(run.log_dir(stage))),
        *extra_callbacks,
    ]
    if is_multiworker(run.strategy):
        history = distributed_fit(model, train, epochs, initial_epoch, steps_per_epoch or len(train), callbacks)
    else:
        history = model.fit(train, validation_data=validation, epochs=epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=steps_per_epoch, callbacks=callbacks, shuffle=False,
                            verbose=1 if sys.stdout.isatty() else 2)  # a progress bar in a terminal, a line per epoch in logs
    if guard.failure:
        latest = manager.latest()
        raise TrainingDiverged(
            f"{guard.failure}; weights of the last good epoch restored in memory, "
            f"last checkpoint on disk: {latest[1] if latest else 'none'}"
        )
    return {k: float(v[-1]) for k, v in history.history.items()}


@contextlib.contextmanager
def dtype_policy(name: str):
    """Layers created inside use the Keras dtype policy of train.precision `name` ("auto" resolved
    here; see keras_t2v.precision); the global policy is restored after."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(resolve_precision(name))
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def restore_or_build(run: Run, manager: CheckpointManager, resume: bool, build):
    """(model, epochs done): the newest checkpoint when resuming, else `build()` (compiled), 0;
    created under the run's tf.distribute strategy and dtype policy (train.precision)."""
    with run.strategy.scope(), dtype_policy(run.config.train.precision):
        restored = manager.load_latest() if resume else None
        return restored if restored is not None else (build(), 0)


save_final = save_model_atomically



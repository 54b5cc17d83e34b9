"""Atomic training checkpoints and the NaN guard shared by every stage trained with `fit`.

A checkpoint is a complete `.keras` file (architecture, weights and optimizer state) plus a JSON
sidecar with the epoch and the epoch's logs, written as `<name>.tmp.keras` and renamed, so a
`kill -9` at any moment leaves either the previous checkpoint or the new one, never half a file.
The sidecar is written last: a checkpoint counts only when its sidecar exists.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import keras


def save_model_atomically(model: keras.Model, path: Path) -> Path:
    """`model.save(path)` through `<stem>.tmp.keras` and a rename: never half a file at `path`."""
    tmp = path.with_name(path.stem + ".tmp.keras")
    model.save(tmp)
    os.replace(tmp, path)
    return path


class CheckpointManager:
    """Checkpoints `ckpt-<epoch>.keras` in `directory`, keeping the newest `keep`, and with a
    `monitor`ed validation metric also `best.keras` (+ best.json: epoch and value), the checkpoint
    where it was lowest (`mode="min"`) or highest ("max"); pruning never removes it."""

    def __init__(self, directory: str | Path, keep: int = 3, monitor: str | None = None, mode: str = "min"):
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        self.directory = Path(directory)
        self.keep, self.monitor, self.mode = keep, monitor, mode

    @property
    def best_path(self) -> Path:
        return self.directory / "best.keras"

    def best(self) -> dict | None:
        """{"epoch", "monitor", "value"} of best.keras, or None before the first one."""
        try:
            return json.loads((self.directory / "best.json").read_text())
        except (FileNotFoundError, ValueError):
            return None

    def _is_better(self, value: float) -> bool:
        best = self.best()
        if not math.isfinite(value):
            return False
        if best is None or not self.best_path.exists():
            return True
        return value < best["value"] if self.mode == "min" else value > best["value"]

    def _write_json(self, path: Path, data: dict) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, path)

    def _path(self, epoch: int) -> Path:
        return self.directory / f"ckpt-{epoch:05d}.keras"

    def complete(self) -> list[tuple[int, Path]]:
        """(epoch, path) of every complete checkpoint, oldest first. Safe to call while another
        process trains into the directory: a sidecar pruned between listing and reading is skipped."""
        found = []
        for sidecar in self.directory.glob("ckpt-*.json"):
            try:
                epoch = json.loads(sidecar.read_text())["epoch"]
            except (FileNotFoundError, ValueError, KeyError):
                continue
            if self._path(epoch).exists():
                found.append((epoch, self._path(epoch)))
        return sorted(found)

    def latest(self) -> tuple[int, Path] | None:
        found = self.complete()
        return found[-1] if found else None

    def save(self, model: keras.Model, epoch: int, logs: dict | None = None) -> Path:
        """Saves the state after `epoch` epochs atomically, then prunes old checkpoints."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = save_model_atomically(model, self._path(epoch))
        metrics = {k: float(v) for k, v in (logs or {}).items()}
        if self.monitor in metrics and self._is_better(metrics[self.monitor]):
            tmp = self.best_path.with_name("best.tmp.keras")
            shutil.copyfile(path, tmp)
            os.replace(tmp, self.best_path)
            self._write_json(self.directory / "best.json", {"epoch": epoch, "monitor": self.monitor, "value": metrics[self.monitor]})
        self._write_json(path.with_suffix(".json"), {"epoch": epoch, "logs": metrics})
        for old_epoch, old_path in self.complete()[: -self.keep]:
            old_path.with_suffix(".json").unlink(missing_ok=True)
            old_path.unlink(missing_ok=True)
        return path

    def load_latest(self) -> tuple[keras.Model, int] | None:
        """(model with optimizer state, epochs done) from the newest complete checkpoint, or None."""
        latest = self.latest()
        if latest is None:
            return None
        epoch, path = latest
        return keras.models.load_model(path, safe_mode=True), epoch


class EpochCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint every `every` epochs and at the last one, unless the loss went non-finite."""

    def __init__(self, manager: CheckpointManager, every: int = 1, total_epochs: int | None = None):
        super().__init__()
        self.manager, self.every, self.total_epochs = manager, max(1, every), total_epochs

    def on_epoch_end(self, epoch, logs=None):
        if self.model.stop_training and getattr(self.model, "_nan_stopped", False):
            return
        done = epoch + 1
        if done % self.every == 0 or done == self.total_epochs:
            self.manager.save(self.model, done, logs)


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the message names the stage, epoch, batch and the last good state."""


class NaNGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and restores the weights of the last good epoch."""

    def __init__(self, stage: str, keys=("loss",)):
        super().__init__()
        self.stage, self.keys = stage, keys
        self.epoch = 0
        self.good_weights = None
        self.failure: str | None = None

    def on_train_begin(self, logs=None):
        self.good_weights = self.model.get_weights()

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        bad = {k: v for k, v in (logs or {}).items() if k in self.keys and not math.isfinite(float(v))}
        if bad and self.failure is None:
            self.failure = f"{self.stage}: {', '.join(f'{k}={v}' for k, v in bad.items())} at epoch {self.epoch + 1}, batch {batch + 1}"
            self.model.stop_training = True
            self.model._nan_stopped = True
            self.model.set_weights(self.good_weights)

    def on_epoch_end(self, epoch, logs=None):
        if self.failure is None:
            self.good_weights = self.model.get_weights()

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2v.checkpoints import CheckpointManager, EpochCheckpoint, NaNGuard


def small_model():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def data(poison_epoch=None, poison_batch=None, batches=4):
    """Four batches per epoch; one batch of one epoch holds a NaN input when asked."""
    state = {"epoch": -1}

    def gen():
        state["epoch"] += 1
        rng = np.random.default_rng(state["epoch"])
        for b in range(batches):
            x = rng.normal(size=(8, 3)).astype("float32")
            if state["epoch"] == poison_epoch and b == poison_batch:
                x[0, 0] = np.nan
            yield x, x.sum(axis=1, keepdims=True)

    spec = (tf.TensorSpec((None, 3), tf.float32), tf.TensorSpec((None, 1), tf.float32))
    return tf.data.Dataset.from_generator(gen, output_signature=spec)


def test_nan_guard_keeps_the_last_good_epoch(tmp_path):
    model = small_model()
    manager = CheckpointManager(tmp_path, keep=5)
    guard = NaNGuard("toy")
    model.fit(data(poison_epoch=1, poison_batch=2), epochs=4, verbose=0,
              callbacks=[guard, EpochCheckpoint(manager, every=1, total_epochs=4)])
    assert guard.failure == "toy: loss=nan at epoch 2, batch 3"
    assert [epoch for epoch, _ in manager.complete()] == [1]
    good = keras.models.load_model(manager.latest()[1]).get_weights()
    for a, b in zip(model.get_weights(), good):
        np.testing.assert_array_equal(a, b)


def test_checkpoints_are_complete_pruned_and_restore_the_optimizer(tmp_path):
    model = small_model()
    manager = CheckpointManager(tmp_path, keep=2)
    model.fit(data(), epochs=3, verbose=0, callbacks=[EpochCheckpoint(manager, every=1, total_epochs=3)])
    assert [epoch for epoch, _ in manager.complete()] == [2, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00002.json", "ckpt-00002.keras", "ckpt-00003.json", "ckpt-00003.keras"]
    assert json.loads((tmp_path / "ckpt-00003.json").read_text())["logs"]["loss"] > 0
    restored, epoch = manager.load_latest()
    assert epoch == 3
    assert int(restored.optimizer.iterations) == int(model.optimizer.iterations) > 0
    for a, b in zip(restored.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_a_checkpoint_without_its_sidecar_does_not_count(tmp_path):
    model = small_model()
    manager = CheckpointManager(tmp_path)
    manager.save(model, 1)
    model.save(tmp_path / "ckpt-00002.keras")  # as if killed before the sidecar was written
    (tmp_path / "ckpt-00003.tmp.keras").write_bytes(b"partial")
    assert manager.latest()[0] == 1


def test_a_sidecar_pruned_while_listing_is_skipped(tmp_path):
    """A reader (the kill-and-resume test, a notebook) may list the directory while the training
    process prunes it: a sidecar gone before it is read must not raise."""
    manager = CheckpointManager(tmp_path)
    manager.save(small_model(), 1)
    (tmp_path / "ckpt-00002.json").symlink_to(tmp_path / "pruned.json")  # listed, unreadable: as if unlinked in between
    assert [epoch for epoch, _ in manager.complete()] == [1]


@pytest.mark.parametrize("mode,values,best_epoch", [("min", [3.0, 1.0, 2.0, float("nan")], 2), ("max", [0.2, 0.1, 0.5, 0.4], 3)])
def test_best_checkpoint_by_the_monitored_metric_survives_pruning(tmp_path, mode, values, best_epoch):
    model = small_model()
    manager = CheckpointManager(tmp_path, keep=1, monitor="val_loss", mode=mode)
    for epoch, value in enumerate(values, start=1):
        model.layers[-1].kernel.assign(np.full(model.layers[-1].kernel.shape, epoch, "float32"))  # epoch-stamped weights
        manager.save(model, epoch, {"loss": 0.0, "val_loss": value})
    assert [epoch for epoch, _ in manager.complete()] == [len(values)]
    assert manager.best() == {"epoch": best_epoch, "monitor": "val_loss", "value": values[best_epoch - 1]}
    best = keras.models.load_model(manager.best_path, safe_mode=True)
    assert (best.layers[-1].get_weights()[0] == best_epoch).all()
    assert CheckpointManager(tmp_path / "none").best() is None

"""Training on several devices or machines with tf.distribute, the same numbers as on one.

`make_strategy(train.strategy)` gives the strategy every stage builds its model under; Keras
`fit` then splits each global batch across the replicas. Three things keep a run on N replicas
equal to the run on one device with the same global batch:
- `replica_gradients`: the optimizer sums the replicas' gradients, so the gradients of a loss
  averaged over the replica's share of the batch are divided by N (hand-written terms included:
  KL, mask L1, first-frame L1);
- BatchNorm is synchronized (`layers.batch_norm`): statistics over the global batch;
- `ReplicaSeedGenerator`: each replica draws different noise (z, CA epsilon, VAE sampling).

Keras 3.15 `fit` fails under MultiWorkerMirroredStrategy (its symbolic build reduces a dict batch
with the collective ops, which accept tensors only), so that strategy trains through
`distributed_fit`, a custom loop over `strategy.run(model.train_step)` that drives the same
callbacks, without validation data. Workers other than the chief write into their own scratch
run directory (`worker_run_dir`), as tf.distribute asks.
"""

from __future__ import annotations

import functools
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


@functools.cache
def make_strategy(name: str) -> tf.distribute.Strategy:
    """"default" (one device), "mirrored" (every local GPU, or every logical CPU), "multiworker"
    (MultiWorkerMirroredStrategy from TF_CONFIG). One per process: TensorFlow allows a single
    multi-worker strategy, created before other ops."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        cpus = tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in (gpus or cpus)])
    if name == "multiworker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"unknown strategy {name!r}; expected one of {STRATEGIES}")


def num_replicas() -> int:
    return tf.distribute.get_strategy().num_replicas_in_sync


def replica_gradients(tape: tf.GradientTape, loss, variables) -> list:
    """Gradients of a replica's `loss` (a mean over its share of the batch), scaled so that the sum
    over replicas the optimizer applies is the gradient of the mean over the global batch."""
    gradients = tape.gradient(loss, variables)
    replicas = num_replicas()
    return gradients if replicas == 1 else [None if g is None else g / replicas for g in gradients]


class ReplicaSeedGenerator(keras.random.SeedGenerator):
    """A SeedGenerator whose seeds differ between the replicas of a tf.distribute strategy, so each
    replica draws its own noise; on one device it is a plain SeedGenerator."""

    def next(self, ordered=True):
        seed = super().next(ordered)
        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return seed
        replica = tf.cast(context.replica_id_in_sync_group, seed.dtype)
        return seed + tf.stack([replica * 1_000_003, tf.zeros_like(replica)])


def is_multiworker(strategy: tf.distribute.Strategy) -> bool:
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def worker_index(strategy: tf.distribute.Strategy) -> int:
    """This process's task index in a multi-worker cluster (0, the chief, otherwise)."""
    if not is_multiworker(strategy):
        return 0
    resolver = strategy.cluster_resolver
    return 0 if resolver.task_type == "chief" else int(resolver.task_id) + (1 if "chief" in resolver.cluster_spec().jobs else 0)


def worker_run_dir(run_dir: str | Path, strategy: tf.distribute.Strategy) -> Path:
    """The run directory itself on the chief; `<run_dir>-worker<i>` (scratch) on other workers."""
    index = worker_index(strategy)
    return Path(run_dir) if index == 0 else Path(f"{run_dir}-worker{index}")


def _as_dataset(data) -> tf.data.Dataset:
    """A tf.data.Dataset of the batches of `data` (a Dataset or a keras PyDataset), repeated."""
    if isinstance(data, tf.data.Dataset):
        return data.repeat()

    def batches():
        while True:
            for index in range(len(data)):
                yield data[index]
            data.on_epoch_end()

    spec = tf.nest.map_structure(lambda x: tf.TensorSpec((None, *np.shape(x)[1:]), tf.as_dtype(np.asarray(x).dtype)), data[0])
    return tf.data.Dataset.from_generator(batches, output_signature=spec)


def distributed_fit(model: keras.Model, data, epochs: int, initial_epoch: int, steps_per_epoch: int, callbacks) -> keras.callbacks.History:
    """`model.fit` for strategies Keras cannot fit under: `steps_per_epoch` steps of
    `strategy.run(model.train_step)` per epoch with the callbacks' epoch and batch hooks; the logs
    are the replicas' mean.

    `data` is a Dataset or PyDataset of global batches, which tf.data auto-shards across the
    workers (by file for TFRecords, else by element), or a function of a
    `tf.distribute.InputContext` returning one input pipeline's dataset of per-replica batches,
    which shards its source itself (clips rendered on the fly, by index)."""
    strategy = model.distribute_strategy
    if callable(data):
        distributed = strategy.distribute_datasets_from_function(data)
    else:
        distributed = strategy.experimental_distribute_dataset(_as_dataset(data))
    iterator = iter(distributed)

    @tf.function
    def step():
        outputs = strategy.run(model.train_step, args=(next(iterator),))
        return {k: strategy.reduce("MEAN", v, axis=None) for k, v in outputs.items()}

    history = keras.callbacks.History()
    callback_list = keras.callbacks.CallbackList([*callbacks, history], model=model, epochs=epochs, steps=steps_per_epoch)
    model.stop_training = False
    callback_list.on_train_begin()
    logs = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        callback_list.on_epoch_begin(epoch)
        for batch in range(steps_per_epoch):
            callback_list.on_train_batch_begin(batch)
            logs = {k: float(v) for k, v in step().items()}
            callback_list.on_train_batch_end(batch, logs)
            if model.stop_training:
                break
        callback_list.on_epoch_end(epoch, logs)
        print(f"epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in logs.items()), flush=True)
        if model.stop_training:
            break
    callback_list.on_train_end(logs)
    return history

"""What both discriminator probes share: train a network as a plain attribute classifier, score it.

The loss is the GANs' auxiliary one (keras_t2v.models.losses.attribute_cross_entropy) with their
optimizer (Adam 2e-4, beta1 0.5); `batches` yields (inputs, attributes (B, len(sizes)) int).
"""

import time

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import numpy as np
import tensorflow as tf

from keras_t2v.models.losses import attribute_cross_entropy


def fit(model, batches, sizes, print_every: int) -> None:
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

    @tf.function
    def step(inputs, attributes):
        with tf.GradientTape() as tape:
            loss = attribute_cross_entropy(model(inputs, training=True), attributes, sizes)
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    start = time.time()
    for i, (inputs, attributes) in enumerate(batches):
        loss = step(inputs, attributes)
        if i % print_every == 0:
            print(f"step {i}: loss {float(loss):.3f} ({time.time() - start:.0f} s)", flush=True)


def accuracy(logits_of, batches, sizes, names) -> dict:
    """{name: fraction right} over `batches`; `logits_of(inputs)` -> logits (B, sum(sizes))."""
    correct, n = np.zeros(len(sizes)), 0
    starts = np.cumsum([0, *sizes])
    for inputs, attributes in batches:
        logits, attributes = np.asarray(logits_of(inputs)), np.asarray(attributes)
        for k in range(len(sizes)):
            correct[k] += (logits[:, starts[k] : starts[k + 1]].argmax(1) == attributes[:, k]).sum()
        n += len(attributes)
    return {name: round(float(v), 3) for name, v in zip(names, correct / n)}

"""Sentence VAE on the concatenated word vectors (shared/specs/reference_architectures.md 3).

    x (B, 7500) -> Dense(intermediate, relu) -> z_mean, z_log_var (B, latent)
      -> z = z_mean + exp(z_log_var / 2) * eps -> Dense(intermediate, relu) -> Dense(7500) -> x_hat

As the 2017 Keras example the author built on: the loss is the reconstruction error summed over
the input dimensions (a per-feature mean times `input_dim`) plus the KL divergence summed over the
latent dimensions, averaged over the batch; the downstream encoder is `x -> z_mean`.

Two output heads, chosen by `output`:
- "sigmoid_bce" (faithful): sigmoid output and `input_dim` x binary cross-entropy, as the author
  ran it, although fastText components are real values in about [-1, 1], not probabilities;
- "linear_mse" (default, sound): linear output and `input_dim` x mean squared error, the Keras
  example's 2018 `--mse` variant, a Gaussian likelihood for real-valued targets.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from keras_t2v.distribute import ReplicaSeedGenerator, replica_gradients

OUTPUTS = ("linear_mse", "sigmoid_bce")


@keras.saving.register_keras_serializable(package="keras_t2v")
class Sampling(layers.Layer):
    """Reparameterised sample z = mean + exp(log_var / 2) * eps, eps ~ N(0, 1): (B, d) -> (B, d)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = ReplicaSeedGenerator(seed)

    def call(self, inputs):
        mean, log_var = inputs
        eps = keras.random.normal(ops.shape(mean), dtype=mean.dtype, seed=self.seed_generator)
        return mean + ops.exp(0.5 * log_var) * eps

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def kl_divergence(mean, log_var):
    """KL(N(mean, exp(log_var)) || N(0, 1)) summed over the latent dimensions: (B, d) -> (B,)."""
    mean, log_var = ops.cast(mean, "float32"), ops.cast(log_var, "float32")
    return -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)


def reconstruction_error(x, x_hat, output: str):
    """Per-sample reconstruction error summed over features: (B, D), (B, D) -> (B,).

    For "sigmoid_bce", `x_hat` is the sigmoid output (as the 2017 Keras loss received it).
    """
    x, x_hat = ops.cast(x, "float32"), ops.cast(x_hat, "float32")
    dim = ops.cast(ops.shape(x)[-1], x.dtype)
    if output == "sigmoid_bce":
        return dim * keras.losses.binary_crossentropy(x, x_hat)
    return dim * ops.mean(ops.square(x - x_hat), axis=-1)


def build_encoder(input_dim: int, intermediate_dim: int, latent_dim: int) -> keras.Model:
    """(B, input_dim) -> [z_mean (B, latent), z_log_var (B, latent)]."""
    x = keras.Input((input_dim,), name="sentence")
    h = layers.Dense(intermediate_dim, activation="relu", name="hidden")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(h)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(h)
    return keras.Model(x, [z_mean, z_log_var], name="vae_encoder")


def build_decoder(latent_dim: int, intermediate_dim: int, output_dim: int, output: str) -> keras.Model:
    """(B, latent) -> (B, output_dim), sigmoid or linear output."""
    z = keras.Input((latent_dim,), name="z")
    h = layers.Dense(intermediate_dim, activation="relu", name="hidden")(z)
    x_hat = layers.Dense(output_dim, activation="sigmoid" if output == "sigmoid_bce" else None, name="reconstruction")(h)
    return keras.Model(z, x_hat, name="vae_decoder")


@keras.saving.register_keras_serializable(package="keras_t2v")
class TextVAE(keras.Model):
    """The sentence VAE. `call(x)` reconstructs from z_mean; `train_step` samples z."""

    def __init__(self, input_dim=7500, intermediate_dim=1200, latent_dim=500, output="linear_mse", kl_weight=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if output not in OUTPUTS:
            raise ValueError(f"unknown VAE output {output!r}; expected one of {OUTPUTS}")
        self.input_dim, self.intermediate_dim, self.latent_dim = input_dim, intermediate_dim, latent_dim
        self.output_kind, self.kl_weight, self.seed = output, kl_weight, seed
        self.encoder = build_encoder(input_dim, intermediate_dim, latent_dim)
        self.decoder = build_decoder(latent_dim, intermediate_dim, input_dim, output)
        self.sampling = Sampling(seed, name="sampling")
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.reconstruction_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_tracker = keras.metrics.Mean(name="kl_loss")
        # Functional sub-models are built on creation; marking the model built lets a .keras
        # reload build the optimizer before restoring its state.
        self.build((None, input_dim))

    def build(self, input_shape=None):
        self.sampling.build([(None, self.latent_dim)] * 2)
        self.built = True

    @property
    def metrics(self):
        return [self.loss_tracker, self.reconstruction_tracker, self.kl_tracker]

    def call(self, x, training=False):
        z_mean, _ = self.encoder(x, training=training)
        return self.decoder(z_mean, training=training)

    def encode(self, x):
        """z_mean, the code handed to the next stage: (B, input_dim) -> (B, latent_dim)."""
        return self.encoder(x, training=False)[0]

    def compute_losses(self, x, training=False):
        """(reconstruction + kl_weight * kl, reconstruction, kl), each a batch mean, with a sampled z."""
        z_mean, z_log_var = self.encoder(x, training=training)
        x_hat = self.decoder(self.sampling([z_mean, z_log_var]), training=training)
        reconstruction = ops.mean(reconstruction_error(x, x_hat, self.output_kind))
        kl = ops.mean(kl_divergence(z_mean, z_log_var))
        return reconstruction + self.kl_weight * kl, reconstruction, kl

    def _update(self, total, reconstruction, kl):
        self.loss_tracker.update_state(total)
        self.reconstruction_tracker.update_state(reconstruction)
        self.kl_tracker.update_state(kl)
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        with tf.GradientTape() as tape:
            total, reconstruction, kl = self.compute_losses(x, training=True)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(replica_gradients(tape, total, weights), weights))
        return self._update(total, reconstruction, kl)

    def test_step(self, data):
        x = data[0] if isinstance(data, tuple) else data
        return self._update(*self.compute_losses(x, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "input_dim": self.input_dim,
            "intermediate_dim": self.intermediate_dim,
            "latent_dim": self.latent_dim,
            "output": self.output_kind,
            "kl_weight": self.kl_weight,
            "seed": self.seed,
        }

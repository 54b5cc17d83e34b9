"""Building blocks shared by the GANs: initialisers, BatchNorm, conditioning augmentation.

Numbers follow shared/specs/reference_architectures.md 1.2-1.3 (StackGAN) and 2.3/2.7 (VGAN).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from keras_t2v.distribute import ReplicaSeedGenerator

VARIANTS = ("tf", "pytorch")


def conv_init(variant: str):
    """StackGAN conv kernels: truncated N(0, 0.02) in the TF original, N(0, 0.02) in the port."""
    if variant == "tf":
        return keras.initializers.TruncatedNormal(0.0, 0.02)
    return keras.initializers.RandomNormal(0.0, 0.02)


def batch_norm(name: str, epsilon: float = 1e-5, affine: bool = True) -> layers.BatchNormalization:
    """BN as both StackGANs and the VGAN generator: gamma ~ N(1, 0.02), momentum 0.9 (= 0.1 in torch).
    Synchronized: under tf.distribute the statistics are those of the global batch, as on one device.
    affine=False: no gamma and beta of its own (ConditionalBatchNorm supplies them)."""
    return layers.BatchNormalization(
        momentum=0.9, epsilon=epsilon, center=affine, scale=affine,
        gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02), synchronized=True, name=name
    )


def ca_kl(mu, log_sigma):
    """KL(N(mu, sigma^2) || N(0, 1)) averaged over batch and dimensions, as StackGAN's code does
    (in float32 whatever the compute dtype)."""
    mu, log_sigma = ops.cast(mu, "float32"), ops.cast(log_sigma, "float32")
    return ops.mean(-log_sigma + 0.5 * (-1.0 + ops.exp(2.0 * log_sigma) + ops.square(mu)))


@keras.saving.register_keras_serializable(package="keras_t2v")
class ConditioningAugmentation(layers.Layer):
    """phi_t (B, E) -> c (B, c_dim), mu (B, c_dim), log_sigma (B, c_dim).

    Dense(2 c_dim) with LeakyReLU(0.2) (TF) or ReLU (PyTorch); the first half is mu, the second
    log sigma (TF) or log variance (PyTorch, returned here as log sigma = logvar / 2);
    c = mu + sigma * eps with eps truncated normal (TF) or normal (PyTorch), from a SeedGenerator.
    When generating (training false) eps is scaled by `generation_noise`: 1.0 samples as StackGAN
    does, 0.0 gives the mean code mu (a deviation: the noise is as wide as the codes' spread).
    When training it is scaled by `training_noise` (1.0 as StackGAN; less is a deviation).
    """

    def __init__(self, c_dim: int, variant: str = "tf", seed=None, generation_noise: float = 1.0,
                 training_noise: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"unknown StackGAN variant {variant!r}; expected one of {VARIANTS}")
        self.c_dim, self.variant, self.seed = c_dim, variant, seed
        self.generation_noise, self.training_noise = generation_noise, training_noise
        self.dense = layers.Dense(
            2 * c_dim,
            kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
            bias_initializer="zeros",
            name="fc",
        )
        self.seed_generator = ReplicaSeedGenerator(seed)

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, embedding, sample=True, training=None):
        h = self.dense(embedding)
        h = ops.leaky_relu(h, 0.2) if self.variant == "tf" else ops.relu(h)
        mu, second = h[:, : self.c_dim], h[:, self.c_dim :]
        log_sigma = second if self.variant == "tf" else 0.5 * second
        if not sample:
            return mu, mu, log_sigma
        draw = keras.random.truncated_normal if self.variant == "tf" else keras.random.normal
        eps = draw(ops.shape(mu), dtype=mu.dtype, seed=self.seed_generator)
        scale = self.training_noise if training else self.generation_noise
        return mu + scale * ops.exp(log_sigma) * eps, mu, log_sigma

    def reseed(self, seed: int) -> np.ndarray:
        """Restarts the noise stream at `seed` (the same draws every time, for evaluations and
        generation); returns the state before, for `restore`."""
        before = np.asarray(self.seed_generator.state).copy()
        self.restore(np.array([seed, 0], before.dtype))
        return before

    def restore(self, state: np.ndarray) -> None:
        self.seed_generator.state.assign(state)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.c_dim)
        return shape, shape, shape

    def get_config(self):
        return {**super().get_config(), "c_dim": self.c_dim, "variant": self.variant, "seed": self.seed,
                "generation_noise": self.generation_noise, "training_noise": self.training_noise}


@keras.saving.register_keras_serializable(package="keras_t2v")
class StopGradient(layers.Layer):
    """Identity whose input gets no gradient (a frozen earlier stage's output)."""

    def call(self, x):
        return ops.stop_gradient(x)


@keras.saving.register_keras_serializable(package="keras_t2v")
class TwoStreamComposite(layers.Layer):
    """VGAN's composition: [foreground (B, T, H, W, 3), mask (B, T, H, W, 1), background (B, H, W, 3)]
    -> mask * foreground + (1 - mask) * background, the background repeated over time."""

    def call(self, inputs):
        foreground, mask, background = inputs
        return mask * foreground + (1.0 - mask) * ops.expand_dims(background, 1)


@keras.saving.register_keras_serializable(package="keras_t2v")
class ConditionalBatchNorm(layers.Layer):
    """[x (B, ..., C), condition (B, D)] -> BN(x) * (1 + gamma(condition)) + beta(condition).

    Conditional batch normalisation (de Vries et al. 2017; Miyato & Koyama 2018): BatchNorm without
    its own scale and offset, which two Dense layers read from the condition instead, so the
    condition acts on every channel of every layer it replaces, not only at the generator's input.
    gamma and beta start at zero: at initialisation the layer is a plain BatchNorm.
    """

    def __init__(self, epsilon: float = 1e-5, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.norm = batch_norm("bn", epsilon, affine=False)
        self.gamma = self.beta = None

    def build(self, input_shape):
        x_shape, condition_shape = input_shape
        self.norm.build(x_shape)
        dense = lambda name: layers.Dense(x_shape[-1], kernel_initializer="zeros", name=name)
        self.gamma, self.beta = dense("gamma"), dense("beta")
        self.gamma.build(condition_shape)
        self.beta.build(condition_shape)

    def call(self, inputs, training=None):
        x, condition = inputs
        shape = (-1,) + (1,) * (len(x.shape) - 2) + (x.shape[-1],)
        gamma = ops.reshape(self.gamma(condition), shape)
        beta = ops.reshape(self.beta(condition), shape)
        return self.norm(x, training=training) * (1.0 + gamma) + beta

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_t2v")
class TranslatedCopies(layers.Layer):
    """[map (B, H, W, C), shifts (B, T, 2)] -> (B, frames, H, W, C): one copy of the map per time
    step, translated by that step's (x, y) shift, given as a fraction of the map's width and height
    (positive: right and down) and averaged over the T / frames shifts the step covers.

    Bilinear sampling with zeros outside the map, written as two small matrix products so that the
    output is differentiable in the shifts (a spatial transformer, Jaderberg et al. 2015, restricted
    to translation; TensorFlow's image transform ops give no gradient for the transform). The
    weights are those of floor(source) and the pixel after it, so the gradient is the difference of
    the two, not zero, when a shift lands on whole pixels, as it does at zero."""

    def __init__(self, frames: int, **kwargs):
        super().__init__(**kwargs)
        self.frames = frames

    @staticmethod
    def _interpolation(shift, size):
        """shift (B, T) in pixels -> (B, T, size, size): row v samples the input at v - shift."""
        position = ops.arange(size, dtype=shift.dtype)
        source = position[:, None] - shift[..., None, None]  # (B, T, size, 1)
        left = ops.floor(source)
        right_weight = source - left
        at = lambda offset: ops.cast(ops.equal(position, left + offset), shift.dtype)
        return (1.0 - right_weight) * at(0.0) + right_weight * at(1.0)

    def call(self, inputs):
        x, shifts = inputs
        batch, steps = ops.shape(shifts)[0], shifts.shape[1]
        if steps % self.frames:
            raise ValueError(f"TranslatedCopies: {steps} shifts do not split into {self.frames} time steps")
        shifts = ops.mean(ops.reshape(ops.cast(shifts, x.dtype), (batch, self.frames, steps // self.frames, 2)), axis=2)
        height, width = x.shape[1], x.shape[2]
        along_x = self._interpolation(shifts[..., 0] * width, width)
        along_y = self._interpolation(shifts[..., 1] * height, height)
        x = ops.einsum("btvw,bhwc->bthvc", along_x, x)
        return ops.einsum("btuh,bthvc->btuvc", along_y, x)

    def compute_output_shape(self, input_shape):
        x_shape = input_shape[0]
        return (x_shape[0], self.frames) + tuple(x_shape[1:])

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@keras.saving.register_keras_serializable(package="keras_t2v")
class CosinePath(layers.Layer):
    """coefficients (B, ..., 2K) -> shifts (B, ..., frames, 2): tanh of the sum of the K lowest-frequency
    cosines over the clip, cos(pi k (t + 1/2) / frames) for k = 0 .. K-1 (the DCT-II basis), with
    K coefficients per axis (x first, then y). A path that can only be smooth: K = 1 holds still,
    K = 2 makes one sweep, more terms make turns (a bounce that reverses twice needs about 4)."""

    def __init__(self, frames: int, **kwargs):
        super().__init__(**kwargs)
        self.frames = frames

    def call(self, coefficients):
        terms = coefficients.shape[-1] // 2
        t = ops.arange(self.frames, dtype=coefficients.dtype)[:, None] + 0.5
        basis = ops.cos(t * ops.arange(terms, dtype=coefficients.dtype)[None, :] * (3.141592653589793 / self.frames))  # (frames, K)
        coefficients = ops.reshape(coefficients, (-1,) + tuple(coefficients.shape[1:-1]) + (2, terms))
        return ops.tanh(ops.einsum("tk,...ak->...ta", basis, coefficients))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.frames, 2)

    def get_config(self):
        return {**super().get_config(), "frames": self.frames}


@keras.saving.register_keras_serializable(package="keras_t2v")
class NoiseChosenPath(layers.Layer):
    """[paths (B, H, T, 2), odds (B, H) logits, z (B, Z)] -> (B, T, 2): the path drawn from
    softmax(odds) by u = Phi(z[:, 0]), uniform on (0, 1) for Gaussian z (inverse-CDF sampling): the
    first h whose cumulative probability exceeds u. One z always draws the same path, and a path
    the odds rule out is never drawn. Only the drawn path gets the gradient."""

    def call(self, inputs):
        paths, odds, z = inputs
        choices = paths.shape[1]
        u = 0.5 * (1.0 + ops.erf(ops.cast(z[:, :1], "float32") / 1.4142135623730951))  # (B, 1)
        below = ops.cumsum(ops.softmax(ops.cast(odds, "float32"), axis=-1), axis=-1)[:, :-1] < u
        index = ops.sum(ops.cast(below, "int32"), axis=-1)
        return ops.einsum("bh,bhta->bta", ops.one_hot(index, choices, dtype=paths.dtype), paths)

    def compute_output_shape(self, input_shape):
        paths = input_shape[0]
        return (paths[0],) + tuple(paths[2:])

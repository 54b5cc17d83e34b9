"""Siamese joint embedding of captions and frames (shared/specs/reference_architectures.md 4).

Two towers map a caption and a frame into one space where a matching pair is close:

    text:  sentence (B, 7500) -> frozen VAE encoder z_mean (B, latent)
           -> Dense(hidden, relu) -> Dropout -> Dense(embed, relu)              (B, embed)
    frame: frame (B, S, S, 3) in [-1, 1] -> backbone
           -> Dense(hidden, relu) -> Dropout -> Dense(embed, relu)              (B, embed)

Backbones: "xception" (paper: keras.applications.Xception with its 1000-way top, 299x299 input
fed raw 0-255 pixels as the original did; weights=None or a file the user provides), "cnn" (a
small strided CNN, flattened, for the quick and tiny presets) or "cnn_pool" (strided conv + BN
blocks and a global max pool: the object is recognised wherever it is, as the evaluator's frame
classifier does).

Loss (2017 Keras mnist_siamese convention, y = 1 for a matching pair):
    d = sqrt(max(sum((a - b)^2), eps)),   L = mean(y d^2 + (1 - y) max(margin - d, 0)^2)
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_t2v.distribute import replica_gradients
from keras_t2v.text.vae import build_encoder

XCEPTION_SIZE = 299
TRAINABLE_XCEPTION_LAYERS = 8  # with user weights, the original froze all but the last 8 layers


def euclidean_distance(a, b):
    """(B, d), (B, d) -> (B,), with the epsilon guard that keeps the gradient finite at 0."""
    return ops.sqrt(ops.maximum(ops.sum(ops.square(a - b), axis=-1), keras.config.epsilon()))


def contrastive_loss(y, distance, margin: float = 1.0):
    """Mean over pairs of y d^2 + (1 - y) max(margin - d, 0)^2; y = 1 for a matching pair."""
    distance = ops.cast(distance, "float32")
    y = ops.cast(y, "float32")
    return ops.mean(y * ops.square(distance) + (1.0 - y) * ops.square(ops.maximum(margin - distance, 0.0)))


def _head(x, hidden: int, embed: int, dropout: float, prefix: str, activation: str):
    x = layers.Dense(hidden, activation="relu", name=f"{prefix}_hidden")(x)
    x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
    return layers.Dense(embed, activation=None if activation == "linear" else activation, name=f"{prefix}_embedding")(x)


def build_text_tower(input_dim, vae_intermediate, latent, hidden, embed, dropout, activation="relu") -> keras.Model:
    """(B, input_dim) sentence vectors -> (B, embed); the VAE encoder inside starts frozen."""
    vae_encoder = build_encoder(input_dim, vae_intermediate, latent)
    vae_encoder.trainable = False
    sentence = keras.Input((input_dim,), name="sentence")
    z_mean = vae_encoder(sentence)[0]
    return keras.Model(sentence, _head(z_mean, hidden, embed, dropout, "text", activation), name="text_tower")


def build_frame_backbone(kind: str, image_size: int, cnn_filters: int = 32) -> keras.Model:
    """(B, S, S, 3) in [-1, 1] -> (B, features)."""
    frame = keras.Input((image_size, image_size, 3), name="frame")
    if kind == "xception":
        x = layers.Resizing(XCEPTION_SIZE, XCEPTION_SIZE, interpolation="bilinear", name="to_299")(frame)
        x = layers.Rescaling(127.5, offset=127.5, name="to_raw_pixels")(x)  # the original fed 0-255
        xception = keras.applications.Xception(
            weights=None, include_top=True, input_shape=(XCEPTION_SIZE, XCEPTION_SIZE, 3)
        )
        features = xception(x)
    elif kind == "cnn":
        x = frame
        for i, mult in enumerate((1, 2, 4)):
            x = layers.Conv2D(cnn_filters * mult, 4, strides=2, padding="same", name=f"conv{i + 1}")(x)
            x = layers.LeakyReLU(0.2, name=f"lrelu{i + 1}")(x)
        features = layers.Flatten(name="flatten")(x)
    elif kind == "cnn_pool":
        x = frame
        for i, mult in enumerate((1, 2, 4, 4)):
            x = layers.Conv2D(cnn_filters * mult, 3, strides=2, padding="same", use_bias=False, name=f"conv{i + 1}")(x)
            x = layers.BatchNormalization(name=f"bn{i + 1}")(x)
            x = layers.LeakyReLU(0.2, name=f"lrelu{i + 1}")(x)
        features = layers.GlobalMaxPooling2D(name="max_pool")(x)
    else:
        raise ValueError(f"unknown frame tower {kind!r}; expected 'xception', 'cnn' or 'cnn_pool'")
    return keras.Model(frame, features, name=f"{kind}_backbone")


def build_frame_tower(kind, image_size, hidden, embed, dropout, cnn_filters=32, activation="relu") -> keras.Model:
    """(B, S, S, 3) in [-1, 1] -> (B, embed)."""
    backbone = build_frame_backbone(kind, image_size, cnn_filters)
    frame = keras.Input((image_size, image_size, 3), name="frame")
    return keras.Model(frame, _head(backbone(frame), hidden, embed, dropout, "frame", activation), name="frame_tower")


def use_pretrained_xception(frame_tower: keras.Model, weights_path: str) -> None:
    """Loads user-provided Xception weights and, as the original, freezes all but its last 8 layers."""
    xception = frame_tower.get_layer("xception_backbone").get_layer("xception")
    xception.load_weights(weights_path)
    for layer in xception.layers[:-TRAINABLE_XCEPTION_LAYERS]:
        layer.trainable = False


@keras.saving.register_keras_serializable(package="keras_t2v")
class JointEmbedding(keras.Model):
    """The Siamese model: `call((sentences, frames))` -> (B,) distances.

    The VAE encoder inside the text tower is frozen, as in the original, unless `finetune_vae`.
    """

    def __init__(
        self,
        input_dim=7500,
        vae_intermediate=1200,
        latent_dim=500,
        hidden_dim=500,
        embed_dim=512,
        dropout=0.5,
        frame_tower="xception",
        image_size=64,
        cnn_filters=32,
        margin=1.0,
        activation="relu",
        finetune_vae=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.settings = dict(
            input_dim=input_dim, vae_intermediate=vae_intermediate, latent_dim=latent_dim, hidden_dim=hidden_dim,
            embed_dim=embed_dim, dropout=dropout, frame_tower=frame_tower, image_size=image_size,
            cnn_filters=cnn_filters, margin=margin, activation=activation, finetune_vae=finetune_vae,
        )
        self.margin = margin
        self.text_tower = build_text_tower(input_dim, vae_intermediate, latent_dim, hidden_dim, embed_dim, dropout, activation)
        self.frame_tower = build_frame_tower(frame_tower, image_size, hidden_dim, embed_dim, dropout, cnn_filters, activation)
        self.vae_encoder.trainable = finetune_vae
        self.vae_encoder.get_layer("z_log_var").trainable = False  # unused: the tower reads z_mean
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.positive_tracker = keras.metrics.Mean(name="positive_distance")
        self.negative_tracker = keras.metrics.Mean(name="negative_distance")
        self.accuracy_tracker = keras.metrics.Mean(name="pair_accuracy")
        self.built = True

    @property
    def vae_encoder(self) -> keras.Model:
        return self.text_tower.get_layer("vae_encoder")

    @property
    def metrics(self):
        return [self.loss_tracker, self.positive_tracker, self.negative_tracker, self.accuracy_tracker]

    def call(self, inputs, training=False):
        sentences, frames = inputs
        return euclidean_distance(self.text_tower(sentences, training=training), self.frame_tower(frames, training=training))

    def _update(self, y, distance, loss):
        distance = ops.cast(distance, "float32")
        y = ops.cast(y, "float32")
        self.loss_tracker.update_state(loss)
        self.positive_tracker.update_state(distance, sample_weight=y)
        self.negative_tracker.update_state(distance, sample_weight=1.0 - y)
        self.accuracy_tracker.update_state(ops.cast(ops.cast(distance < 0.5, y.dtype) == y, "float32"))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        inputs, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            distance = self(inputs, training=True)
            loss = contrastive_loss(y, distance, self.margin)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(replica_gradients(tape, loss, weights), weights))
        return self._update(y, distance, loss)

    def test_step(self, data):
        inputs, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        distance = self(inputs, training=False)
        return self._update(y, distance, contrastive_loss(y, distance, self.margin))

    def get_config(self):
        return {**super().get_config(), **self.settings}


def recall_at_k(text_codes: np.ndarray, frame_codes: np.ndarray, ks=(1, 5, 10), group: int = 100) -> dict:
    """Retrieval among `group` candidates: caption i's right frame is frame i, and the reverse.

    Codes are split into consecutive groups of `group` pairs (a trailing partial group is dropped);
    R@K is the share of queries whose right item ranks in the top K by Euclidean distance; ties
    count against the query (a collapsed embedding scores 0, not 1).
    """
    n = (len(text_codes) // group) * group
    if n == 0:
        raise ValueError(f"retrieval needs at least {group} caption/frame pairs, got {len(text_codes)}")
    hits = {f"caption_to_frame_R@{k}": [] for k in ks} | {f"frame_to_caption_R@{k}": [] for k in ks}
    for start in range(0, n, group):
        t, f = text_codes[start : start + group], frame_codes[start : start + group]
        distances = np.linalg.norm(t[:, None, :] - f[None, :, :], axis=-1)  # (captions, frames)
        right = np.diag(distances)[:, None]
        rank_c2f = (distances <= right).sum(axis=1) - 1  # other frames at least as close as the right one
        rank_f2c = (distances.T <= right).sum(axis=1) - 1
        for k in ks:
            hits[f"caption_to_frame_R@{k}"].extend(rank_c2f < k)
            hits[f"frame_to_caption_R@{k}"].extend(rank_f2c < k)
    return {name: float(np.mean(v)) for name, v in hits.items()} | {"queries": n, "candidates": group}

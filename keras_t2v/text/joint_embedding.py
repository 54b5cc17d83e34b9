"""Siamese joint embedding of captions and frames (shared/specs/reference_architectures.md 4).

Two towers map a caption and a frame into one space where a matching pair is close:

    text:  sentence (B, 7500) -> frozen VAE encoder z_mean (B, latent)
           -> Dense(hidden, relu) -> Dropout -> Dense(embed, relu)              (B, embed)
           (text_input="words": the head reads the sentence vector itself, no VAE;
           "words_conv", a deviation: the sentence as (B, max_words, word_dim), two Conv1D(hidden,
           3, relu) over the word slots and a max over them, then the head: a word is read the same
           wherever the template puts it, where a Dense on the 7500-d vector learns each slot apart)
    frame: frame (B, S, S, 3) in [-1, 1] -> backbone
           -> Dense(hidden, relu) -> Dropout -> Dense(embed, relu)              (B, embed)
           (clip_frames=K > 1, a deviation: K frames evenly spaced over the clip, stacked on
           channels, (B, S, S, 3K): the frame code can tell how the object moves, so InfoNCE
           makes the text code keep the caption's motion too; one frame cannot show it)

Backbones: "xception" (paper: keras.applications.Xception with its 1000-way top, 299x299 input
fed raw 0-255 pixels as the original did; weights=None or a file the user provides), "cnn" (a
small strided CNN, flattened, for the quick and tiny presets) or "cnn_pool" (strided conv + BN
blocks and a global max pool: the object is recognised wherever it is, as the evaluator's frame
classifier does).

Losses, over d = sqrt(max(sum((a - b)^2), eps)):
- "contrastive" (faithful; the 2017 Keras mnist_siamese convention, y = 1 for a matching pair), on
  sampled pairs:  L = mean(y d^2 + (1 - y) max(margin - d, 0)^2);
- "infonce" (deviation; CPC, van den Oord et al. 2018, and CLIP's symmetric form), on a batch of B
  clips, one caption and one key frame each: every other clip's frame is a negative of a caption,
  and the reverse. With logits -d^2 (B, B), L = mean of the cross-entropy of the right column per
  row and of the right row per column; clips of the same attribute combination are no negatives.

attribute_weight > 0 (a deviation, Captioned Moving Shapes with "infonce"): a linear head on the
text code predicts the caption's five attributes, and the loss adds attribute_weight x their mean
cross-entropy, so the code keeps what the frame tower reads badly (shape) as well as what it reads
well. The head is not part of the text encoder the GANs read.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

from keras_t2v.data.attributes import NUM_VALUES
from keras_t2v.distribute import replica_gradients
from keras_t2v.models.losses import attribute_cross_entropy
from keras_t2v.text.vae import build_encoder

XCEPTION_SIZE = 299
TRAINABLE_XCEPTION_LAYERS = 8  # with user weights, the original froze all but the last 8 layers
TEXT_INPUTS = ("vae", "words", "words_conv")
LOSSES = ("contrastive", "infonce")


def euclidean_distance(a, b):
    """(B, d), (B, d) -> (B,), with the epsilon guard that keeps the gradient finite at 0."""
    return ops.sqrt(ops.maximum(ops.sum(ops.square(a - b), axis=-1), keras.config.epsilon()))


def contrastive_loss(y, distance, margin: float = 1.0):
    """Mean over pairs of y d^2 + (1 - y) max(margin - d, 0)^2; y = 1 for a matching pair."""
    distance = ops.cast(distance, "float32")
    y = ops.cast(y, "float32")
    return ops.mean(y * ops.square(distance) + (1.0 - y) * ops.square(ops.maximum(margin - distance, 0.0)))


def infonce_loss(distances, keys):
    """Symmetric in-batch cross-entropy over logits -d^2: (B, B) distances, row i a caption, column
    j a frame, diagonal the right pairs; (B,) keys: off-diagonal pairs of equal keys are left out."""
    distances = ops.cast(distances, "float32")
    logits = ops.where(_same_key_off_diagonal(keys), -1e9, -ops.square(distances))
    labels = ops.arange(ops.shape(logits)[0])
    cross_entropy = keras.losses.sparse_categorical_crossentropy
    return 0.5 * (ops.mean(cross_entropy(labels, logits, from_logits=True))
                  + ops.mean(cross_entropy(labels, ops.transpose(logits), from_logits=True)))


def _same_key_off_diagonal(keys):
    same = ops.equal(keys[:, None], keys[None, :])
    return ops.logical_and(same, ops.logical_not(ops.eye(ops.shape(keys)[0], dtype="bool")))


def pairwise_distances(a, b):
    """(B, d), (M, d) -> (B, M) Euclidean distances with the epsilon guard."""
    return euclidean_distance(a[:, None, :], b[None, :, :])


def _head(x, hidden: int, embed: int, dropout: float, prefix: str, activation: str):
    x = layers.Dense(hidden, activation="relu", name=f"{prefix}_hidden")(x)
    x = layers.Dropout(dropout, name=f"{prefix}_dropout")(x)
    return layers.Dense(embed, activation=None if activation == "linear" else activation, name=f"{prefix}_embedding")(x)


def build_text_tower(input_dim, vae_intermediate, latent, hidden, embed, dropout, activation="relu",
                     text_input="vae", word_dim=300) -> keras.Model:
    """(B, input_dim) sentence vectors -> (B, embed), through the VAE encoder's z_mean (which starts
    frozen) or, with text_input="words", from the sentence vector itself, or with "words_conv" from
    a max over its word slots (input_dim / word_dim of them) of two 3-word convolutions."""
    sentence = keras.Input((input_dim,), name="sentence")
    if text_input == "vae":
        vae_encoder = build_encoder(input_dim, vae_intermediate, latent)
        vae_encoder.trainable = False
        features = vae_encoder(sentence)[0]
    elif text_input == "words":
        features = sentence
    elif text_input == "words_conv":
        if input_dim % word_dim:
            raise ValueError(f"a sentence of {input_dim} values is no whole number of {word_dim}-d words")
        x = layers.Reshape((input_dim // word_dim, word_dim), name="text_words")(sentence)
        x = layers.Conv1D(hidden, 3, padding="same", activation="relu", name="text_conv1")(x)
        x = layers.Conv1D(hidden, 3, padding="same", activation="relu", name="text_conv2")(x)
        features = layers.GlobalMaxPooling1D(name="text_max")(x)
    else:
        raise ValueError(f"unknown text input {text_input!r}; expected one of {TEXT_INPUTS}")
    return keras.Model(sentence, _head(features, hidden, embed, dropout, "text", activation), name="text_tower")


def build_frame_backbone(kind: str, image_size: int, cnn_filters: int = 32, channels: int = 3) -> keras.Model:
    """(B, S, S, channels) in [-1, 1] -> (B, features)."""
    if kind == "xception" and channels != 3:
        raise ValueError("the xception frame tower reads one RGB frame; joint.clip_frames > 1 needs 'cnn' or 'cnn_pool'")
    frame = keras.Input((image_size, image_size, channels), name="frame")
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


def build_frame_tower(kind, image_size, hidden, embed, dropout, cnn_filters=32, activation="relu",
                      clip_frames=1) -> keras.Model:
    """(B, S, S, 3 * clip_frames) in [-1, 1] -> (B, embed)."""
    backbone = build_frame_backbone(kind, image_size, cnn_filters, 3 * clip_frames)
    frame = keras.Input((image_size, image_size, 3 * clip_frames), name="frame")
    return keras.Model(frame, _head(backbone(frame), hidden, embed, dropout, "frame", activation), name="frame_tower")


def use_pretrained_xception(frame_tower: keras.Model, weights_path: str) -> None:
    """Loads user-provided Xception weights and, as the original, freezes all but its last 8 layers."""
    xception = frame_tower.get_layer("xception_backbone").get_layer("xception")
    xception.load_weights(weights_path)
    for layer in xception.layers[:-TRAINABLE_XCEPTION_LAYERS]:
        layer.trainable = False


@keras.saving.register_keras_serializable(package="keras_t2v")
class JointEmbedding(keras.Model):
    """The Siamese model: `call((sentences, frames))` -> (B,) distances of the paired rows.

    The VAE encoder inside the text tower is frozen, as in the original, unless `finetune_vae`.
    Training data: ((sentences, frames), y) with y (B,) the pair labels for the "contrastive" loss,
    or the clips' keys for "infonce" (row i of sentences and of frames come from one clip).
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
        text_input="vae",
        loss="contrastive",
        clip_frames=1,
        attribute_weight=0.0,
        word_dim=300,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if loss not in LOSSES:
            raise ValueError(f"unknown joint loss {loss!r}; expected one of {LOSSES}")
        if attribute_weight and loss != "infonce":
            raise ValueError('joint.attribute_weight reads the attributes of the batch\'s clips: it needs loss="infonce"')
        if clip_frames < 1:
            raise ValueError(f"joint.clip_frames must be 1 (one key frame) or more, got {clip_frames}")
        self.settings = dict(
            input_dim=input_dim, vae_intermediate=vae_intermediate, latent_dim=latent_dim, hidden_dim=hidden_dim,
            embed_dim=embed_dim, dropout=dropout, frame_tower=frame_tower, image_size=image_size,
            cnn_filters=cnn_filters, margin=margin, activation=activation, finetune_vae=finetune_vae,
            text_input=text_input, loss=loss, clip_frames=clip_frames, attribute_weight=attribute_weight,
            word_dim=word_dim,
        )
        self.attribute_weight, self.attribute_head = attribute_weight, None
        if attribute_weight:
            self.attribute_head = layers.Dense(sum(NUM_VALUES), name="text_attributes")
            self.attribute_head.build((None, embed_dim))
        self.margin, self.loss_kind = margin, loss
        self.text_tower = build_text_tower(input_dim, vae_intermediate, latent_dim, hidden_dim, embed_dim, dropout,
                                           activation, text_input, word_dim)
        self.frame_tower = build_frame_tower(frame_tower, image_size, hidden_dim, embed_dim, dropout, cnn_filters, activation,
                                             clip_frames)
        if text_input == "vae":
            self.vae_encoder.trainable = finetune_vae
            self.vae_encoder.get_layer("z_log_var").trainable = False  # unused: the tower reads z_mean
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.positive_tracker = keras.metrics.Mean(name="positive_distance")
        self.negative_tracker = keras.metrics.Mean(name="negative_distance")
        # contrastive: pairs on the right side of distance 0.5; infonce: captions whose nearest
        # frame in the batch is their own.
        self.accuracy_tracker = keras.metrics.Mean(name="pair_accuracy" if loss == "contrastive" else "batch_top1")
        self.attribute_tracker = keras.metrics.Mean(name="attribute_loss")
        self.built = True

    @property
    def vae_encoder(self) -> keras.Model:
        return self.text_tower.get_layer("vae_encoder")

    @property
    def metrics(self):
        trackers = [self.loss_tracker, self.positive_tracker, self.negative_tracker, self.accuracy_tracker]
        return trackers + [self.attribute_tracker] if self.attribute_weight else trackers

    def call(self, inputs, training=False):
        sentences, frames = inputs
        return euclidean_distance(self.text_tower(sentences, training=training), self.frame_tower(frames, training=training))

    def _forward(self, data, training):
        """(loss, y, distances): y and distances (B,) of the pairs for "contrastive"; for "infonce"
        y are the clips' keys and distances (B, B) every caption against every frame (with
        attribute_weight, y arrives as (keys (B,), attributes (B, 5)))."""
        (sentences, frames), y, _ = keras.utils.unpack_x_y_sample_weight(data)
        text, frame = self.text_tower(sentences, training=training), self.frame_tower(frames, training=training)
        if self.loss_kind == "infonce":
            keys, attributes = y if self.attribute_weight else (y, None)
            distances = pairwise_distances(text, frame)
            loss = infonce_loss(distances, keys)
            if self.attribute_weight:
                attribute_loss = attribute_cross_entropy(self.attribute_head(text), attributes, NUM_VALUES)
                self.attribute_tracker.update_state(attribute_loss)
                loss = loss + self.attribute_weight * attribute_loss
            return loss, keys, distances
        distance = euclidean_distance(text, frame)
        return contrastive_loss(y, distance, self.margin), y, distance

    def _update(self, y, distances, loss):
        distances = ops.cast(distances, "float32")
        self.loss_tracker.update_state(loss)
        if self.loss_kind == "infonce":  # the diagonal are positives, pairs of other keys negatives
            negative = ops.cast(ops.not_equal(y[:, None], y[None, :]), "float32")
            self.positive_tracker.update_state(ops.diagonal(distances))
            self.negative_tracker.update_state(distances, sample_weight=negative)
            nearest = ops.argmin(ops.where(_same_key_off_diagonal(y), 1e9, distances), axis=1)
            self.accuracy_tracker.update_state(ops.cast(ops.equal(nearest, ops.arange(ops.shape(y)[0])), "float32"))
        else:
            y = ops.cast(y, "float32")
            self.positive_tracker.update_state(distances, sample_weight=y)
            self.negative_tracker.update_state(distances, sample_weight=1.0 - y)
            self.accuracy_tracker.update_state(ops.cast(ops.cast(distances < 0.5, y.dtype) == y, "float32"))
        return {m.name: m.result() for m in self.metrics}

    def train_step(self, data):
        with tf.GradientTape() as tape:
            loss, y, distances = self._forward(data, training=True)
        weights = self.trainable_weights
        self.optimizer.apply_gradients(zip(replica_gradients(tape, loss, weights), weights))
        return self._update(y, distances, loss)

    def test_step(self, data):
        loss, y, distances = self._forward(data, training=False)
        return self._update(y, distances, loss)

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

"""The evaluator networks: a video classifier (5 heads) and a frame classifier (4 heads).

Trained once per dataset configuration on real Captioned Moving Shapes and never on generated
data; their penultimate 128-d features are the space of FD-self, KID-self and precision/recall.

    frame (B, S, S, 3) in [-1, 1]    -> 5 conv blocks -> global max -> Dense(128) = features -> shape, color, size, background
    video (B, T, S, S, 3) in [-1, 1] -> the same blocks on every 8th frame -> global max -> Dense(64) -> shape, color, size, background
                                     -> Conv3D x4 -> flatten -> Dense(64) -> motion;  features = the two 64-d halves

Global max pooling makes appearance translation invariant, and the video's appearance and motion
heads read separate features, so neither can learn an attribute from its correlation with
another: both matter for held-out combinations (test_unseen).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from keras import layers

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, FRAME_ATTRIBUTES, NUM_VALUES
from keras_t2v.data.records import split_records

EVALUATOR_VERSION = 2  # 2: global-max appearance features with BatchNorm (shape >= 99 %); 1: flattened conv features
FEATURES = 128
EVALUATOR_EPOCHS = 4  # when an evaluator is first trained; 4 and 12 both classify every real test clip right (README)


def _heads(features, names):
    return {n: layers.Dense(NUM_VALUES[ATTRIBUTE_NAMES.index(n)], name=n)(features) for n in names}


def _conv(x, conv, filters, kernel, strides, name):
    """conv (no bias) -> BatchNorm (momentum 0.9: its averages follow the fast-moving weights of
    a few epochs' training) -> ReLU."""
    x = conv(filters, kernel, strides=strides, padding="same", use_bias=False, name=name)(x)
    return layers.ReLU(name=f"{name}_relu")(layers.BatchNormalization(momentum=0.9, name=f"{name}_bn")(x))


APPEARANCE_BLOCKS = ((1, 1), (1, 2), (2, 1), (2, 2), (4, 2))  # (width multiple, spatial stride): S -> S/8


def build_video_classifier(frames: int, size: int, width: int = 16, frame_width: int = 32, frame_step: int = 8) -> keras.Model:
    """-> {attribute name: logits}; the "appearance_features" and "motion_features" layers are the
    two halves of the 128-d features.

    Two branches, each with its own 64-d half of the features and its own heads, so no attribute
    can lean on another's evidence (which held-out combinations would break):
    - appearance (shape, colour, size, background): the frame classifier's blocks on every
      `frame_step`-th frame (Conv3D with kernel (1, 3, 3) is a per-frame Conv2D), then a global
      max: where the object is does not matter;
    - motion: a 3D-conv trunk down to (T/4, S/16, S/16), flattened, which keeps position over time.
    """
    video = keras.Input((frames, size, size, 3), name="video")
    x = video
    for i, (mult, stride) in enumerate(APPEARANCE_BLOCKS):
        x = _conv(x, layers.Conv3D, frame_width * mult, (1, 3, 3), (frame_step if i == 0 else 1, stride, stride), f"appearance{i + 1}")
    appearance = layers.Dense(FEATURES // 2, activation="relu", name="appearance_features")(layers.GlobalMaxPooling3D(name="appearance_max")(x))
    x = _conv(video, layers.Conv3D, width, (3, 5, 5), (1, 2, 2), "motion1")
    x = _conv(x, layers.Conv3D, width * 2, 3, 2, "motion2")
    x = _conv(x, layers.Conv3D, width * 4, 3, 2, "motion3")
    x = _conv(x, layers.Conv3D, width * 4, 3, (1, 2, 2), "motion4")
    motion = layers.Dense(FEATURES // 2, activation="relu", name="motion_features")(layers.Flatten(name="motion_flat")(x))
    heads = _heads(appearance, [n for n in ATTRIBUTE_NAMES if n != "motion"]) | _heads(motion, ["motion"])
    return keras.Model(video, {n: heads[n] for n in ATTRIBUTE_NAMES}, name="video_evaluator")


def build_frame_classifier(size: int, width: int = 32) -> keras.Model:
    """(B, S, S, 3) -> {shape, color, size, background: logits}: five conv blocks down to S/8, a
    global max (translation invariant) and the 128-d features."""
    frame = keras.Input((size, size, 3), name="frame")
    x = frame
    for i, (mult, stride) in enumerate(APPEARANCE_BLOCKS):
        x = _conv(x, layers.Conv2D, width * mult, 3, stride, f"conv{i + 1}")
    features = layers.Dense(FEATURES, activation="relu", name="features")(layers.GlobalMaxPooling2D(name="max")(x))
    return keras.Model(frame, _heads(features, FRAME_ATTRIBUTES), name="frame_evaluator")


def with_features(model: keras.Model) -> keras.Model:
    """The same network returning {"features": (B, 128), attribute: logits}."""
    names = {layer.name for layer in model.layers}
    if "features" in names:
        features = model.get_layer("features").output
    else:
        features = layers.Concatenate()([model.get_layer("appearance_features").output, model.get_layer("motion_features").output])
    return keras.Model(model.input, {"features": features, **model.output})


def _compile(model, names):
    losses = {n: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for n in names}
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=losses, metrics={n: ["accuracy"] for n in names})


def _video_examples(records, batch, shuffle):
    def to_xy(r):
        video = tf.cast(r["video"], tf.float32) / 127.5 - 1.0
        return video, {n: r["attributes"][i] for i, n in enumerate(ATTRIBUTE_NAMES)}

    ds = records.map(to_xy, num_parallel_calls=tf.data.AUTOTUNE)
    return (ds.shuffle(shuffle) if shuffle else ds).batch(batch).prefetch(tf.data.AUTOTUNE)


def _frame_examples(records, batch, shuffle, seed=0, frames_per_clip=1):
    """Batches of (frame, labels): with `shuffle` (training), `frames_per_clip` frames of each clip
    drawn anew every epoch; otherwise one frame per clip fixed by (seed, clip index)."""
    def labels(r):
        return {n: r["attributes"][ATTRIBUTE_NAMES.index(n)] for n in FRAME_ATTRIBUTES}

    def to_float(video):
        return tf.cast(video, tf.float32) / 127.5 - 1.0

    def drawn(r):
        t = tf.random.shuffle(tf.range(tf.shape(r["video"])[0]))[:frames_per_clip]
        repeated = {n: tf.fill(tf.shape(t), label) for n, label in labels(r).items()}
        return tf.data.Dataset.from_tensor_slices((to_float(tf.gather(r["video"], t)), repeated))

    def fixed(r):
        t = tf.random.stateless_uniform([], tf.stack([tf.constant(seed, tf.int64), r["index"]]), maxval=tf.shape(r["video"])[0], dtype=tf.int32)
        return to_float(r["video"][t]), labels(r)

    if shuffle:
        ds = records.interleave(drawn, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE).shuffle(shuffle)
    else:
        ds = records.map(fixed, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch).prefetch(tf.data.AUTOTUNE)


class Evaluator:
    """The two classifiers, loaded from or saved to `directory`."""

    def __init__(self, video: keras.Model, frame: keras.Model):
        self.video, self.frame = video, frame
        self._video_features = with_features(video)
        self._frame_features = with_features(frame)

    @classmethod
    def load(cls, directory: str | Path) -> "Evaluator":
        directory = Path(directory)
        load = lambda name: keras.models.load_model(directory / name, safe_mode=True, compile=False)  # noqa: E731
        return cls(load("video_evaluator.keras"), load("frame_evaluator.keras"))

    def predict_video(self, videos: np.ndarray, batch: int = 32):
        """float videos in [-1, 1] -> (features (N, 128), predicted attributes (N, 5))."""
        out = self._video_features.predict(videos, batch_size=batch, verbose=0)
        return out["features"], np.stack([out[n].argmax(-1) for n in ATTRIBUTE_NAMES], axis=1)

    def predict_frame(self, frames: np.ndarray, batch: int = 128):
        """float frames in [-1, 1] -> (features (N, 128), predicted (shape, color, size, background) (N, 4))."""
        out = self._frame_features.predict(frames, batch_size=batch, verbose=0)
        return out["features"], np.stack([out[n].argmax(-1) for n in FRAME_ATTRIBUTES], axis=1)


def train_evaluator(data, directory: str | Path, train_count: int, epochs: int = 3, test_count: int = 512, batch: int = 32) -> dict:
    """Trains both classifiers on real clips, saves them and their test accuracies to `directory`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    start = time.time()
    video = build_video_classifier(data.num_frames, data.image_size)
    frame = build_frame_classifier(data.image_size)
    _compile(video, ATTRIBUTE_NAMES)
    _compile(frame, FRAME_ATTRIBUTES)
    train, _ = split_records(data, "train", train_count)
    if train_count <= 4096:
        train = train.cache()
    video.fit(_video_examples(train, batch, 512), epochs=epochs, verbose=2)
    frame.fit(_frame_examples(train, 4 * batch, 2048, frames_per_clip=4), epochs=epochs, verbose=2)
    report = {"train_clips": train_count, "epochs": epochs, "seconds": None, "accuracy": {}}
    for split in ("test", "test_unseen"):
        records, _ = split_records(data, split, test_count)
        v = video.evaluate(_video_examples(records, batch, 0), verbose=0, return_dict=True)
        f = frame.evaluate(_frame_examples(records, 4 * batch, 0, seed=1), verbose=0, return_dict=True)
        report["accuracy"][split] = {
            "video": {n: float(v[f"{n}_accuracy"]) for n in ATTRIBUTE_NAMES},
            "frame": {n: float(f[f"{n}_accuracy"]) for n in FRAME_ATTRIBUTES},
        }
    report["seconds"] = round(time.time() - start, 1)
    video.save(directory / "video_evaluator.keras")
    frame.save(directory / "frame_evaluator.keras")
    (directory / "evaluator.json").write_text(json.dumps(report, indent=1))
    return report

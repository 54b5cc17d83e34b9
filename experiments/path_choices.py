"""How many paths does the track need before a bounce keeps its length? (`vgan.sprite_path_choices`)

The shipped video generator's sprite moves along one of H = 2 paths (six cosines each) that it reads
from [text code, z, where its mask is], trained by the relaxed winner-takes-all L1 onto the real
object's track and the winner's cross-entropy on the paths' odds (models/vgan.py `_shifts`,
models/losses.py). Its bounces travel 66 / 56 pixels where real ones travel 82 / 84 (README "How
noisy is KID-self"). A bounce's turns depend on its speed (1.5 to 2.5 times the range over the
clip, shared/specs/dataset.md), which neither the caption nor the first frame tells: with one path
per direction, the L1 averages the turns of every speed into a shorter wobble.

This fits that head alone, the same layers and losses with nothing else, to the exact tracks of the
training clips (`shapes.trajectory`, no rendering; the caption's attributes one-hot for the text
code, the object's coverage at 8x8 for where its mask is, Gaussian z), for H = 1, 2, 4 and 8, with the
video stage's optimiser, track weight and number of steps (26 epochs of 200 steps of 16 clips, half
conditioned on their own first frame). Then per motion, on the test clips with z drawn: the path
travelled along the motion axis by the drawn path and by the real object, and the drawn path's mean
distance from the real track, in pixels of the 64x64 frame.

    python experiments/path_choices.py

About a minute on a 2-core CPU. Numbers are in the README ("More paths for the bounces").
"""

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import numpy as np
import tensorflow as tf

from keras_t2v.data.attributes import LEFT, LEFT_RIGHT, MOTIONS, RIGHT, one_hot
from keras_t2v.data.shapes import describe_clip, extent_pixels, object_alpha, trajectory
from keras_t2v.models.losses import path_errors, winner_cross_entropy, winner_takes_all_l1
from keras_t2v.models.vgan import _shifts

SIZE, FRAMES, PATH_TERMS, Z_DIM = 64, 32, 6, 100
TRACK_WEIGHT, STEPS, BATCH = 2.0, 26 * 200, 8


def clips(split: str, n: int):
    """The first n clips of `split` -> (reads without z (n, D) float32, tracks (n, T, 2) in
    fractions of the frame from frame 0, motion (n,) int)."""
    reads, tracks, motion = [], [], []
    for i in range(n):
        spec = describe_clip(0, split, i)
        centers = trajectory(spec, SIZE, FRAMES)
        alpha = object_alpha(spec.attributes[0], extent_pixels(spec, SIZE), centers[:1], SIZE)[0]
        text = one_hot([spec.attributes])[0]
        where = alpha.reshape(8, SIZE // 8, 8, SIZE // 8).mean(axis=(1, 3)).ravel()
        reads.append(np.concatenate([text, where]))
        tracks.append((centers - centers[0]) / SIZE)
        motion.append(spec.attributes[3])
    return np.array(reads, np.float32), np.array(tracks, np.float32), np.array(motion)


def path_head(choices: int, read_dim: int) -> tuple[keras.Model, keras.Model]:
    """G's path head (`_shifts`) on [reads, z] -> (the drawn path (B, T, 2), [every path (B, H, T, 2), odds (B, H)])."""
    reads, z = keras.Input((read_dim,)), keras.Input((Z_DIM,))
    both = keras.layers.Concatenate()([reads, z])
    drawn = _shifts(both, FRAMES, "sprite_shift", PATH_TERMS, choices, z)
    model = keras.Model([reads, z], drawn)
    if choices == 1:
        return model, keras.Model([reads, z], keras.ops.expand_dims(drawn, 1))
    return model, keras.Model([reads, z], [model.get_layer("sprite_shift_paths").output, model.get_layer("sprite_shift_odds").output])


def fit(choices: int, reads: np.ndarray, tracks: np.ndarray, seed: int = 0) -> keras.Model:
    keras.utils.set_random_seed(seed)
    drawn, heads = path_head(choices, reads.shape[1])
    optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
    rng = np.random.default_rng(seed)
    weight = tf.ones((BATCH, FRAMES))

    @tf.function
    def step(r, track, z):
        with tf.GradientTape() as tape:
            out = heads([r, z], training=True)
            paths, odds = (out[0], out[1:]) if choices > 1 else (out, [])
            errors = path_errors(paths, track, weight)
            loss = winner_takes_all_l1(errors, weight)
            if odds:
                loss = loss + winner_cross_entropy(odds[0], errors, weight)
            loss = TRACK_WEIGHT * loss
        variables = heads.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

    for _ in range(STEPS):
        rows = rng.integers(len(reads), size=BATCH)
        step(reads[rows], tracks[rows], rng.standard_normal((BATCH, Z_DIM)).astype(np.float32))
    return drawn


def along_axis(paths: np.ndarray, motion: np.ndarray) -> np.ndarray:
    """(N, T, 2) in fractions -> (N,) pixels travelled along each clip's motion axis."""
    axis = np.where(np.isin(motion, (LEFT, RIGHT, LEFT_RIGHT)), 0, 1)
    return np.abs(np.diff(paths[np.arange(len(paths)), :, axis], axis=1)).sum(axis=1) * SIZE


def main(train_n: int = 8192, test_n: int = 512) -> None:
    reads, tracks, _ = clips("train", train_n)
    test_reads, test_tracks, motion = clips("test", test_n)
    z = np.random.default_rng(1).standard_normal((test_n, Z_DIM)).astype(np.float32)
    real = along_axis(test_tracks, motion)
    print("| paths H | " + " | ".join(MOTIONS) + " | mean distance from the track (px) |")
    print("|---" * (len(MOTIONS) + 2) + "|")
    print("| real | " + " | ".join(f"{real[motion == m].mean():.1f}" for m in range(len(MOTIONS))) + " | |")
    for choices in (1, 2, 4, 8):
        paths = keras.ops.convert_to_numpy(fit(choices, reads, tracks)([test_reads, z]))
        travelled = along_axis(paths, motion)
        distance = np.abs(paths - test_tracks).mean() * SIZE
        print(f"| {choices} | " + " | ".join(f"{travelled[motion == m].mean():.1f}" for m in range(len(MOTIONS)))
              + f" | {distance:.2f} |", flush=True)


if __name__ == "__main__":
    main()

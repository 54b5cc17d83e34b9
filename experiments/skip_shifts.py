"""Do the moving skips (or the sprite) move with the caption's motion, and does the video's object follow them?

For a run trained with `vgan.moving_skips`, the generator predicts from [text code, z] a shift per
frame for the first frame's encoder maps; with `vgan.sprite`, from [text code, z, where its mask is]
a shift per frame for its one foreground (models/vgan.py), and with `vgan.sprite_path_choices` the
mean odds of each path per motion. For the evaluation's test captions and
seeds (as experiments/video_frame_attributes.py), this prints per motion, in pixels of the 64x64
frame: the real clips' object displacement from frame 0 to frame 31 (centroid, as the rule-based
motion judge tracks it), the generator's skip shift from frame 0 to frame 31, and the displacement of
the generated video's object; the path along the motion axis (bounces reverse, so their net
displacement says little); and where the object starts, real and generated (a linear motion starts
on the side it leaves from, so a video can only travel as far as its first frame, Stage-I's, allows).

    python experiments/skip_shifts.py runs/jm
    python experiments/skip_shifts.py runs/js

About a minute on a 2-core CPU. Numbers are in the README ("Moving skips", "Sprite").
"""

import sys

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import numpy as np

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, DOWN, MOTIONS, UP, UP_DOWN
from keras_t2v.evaluate import generate_videos, real_clips
from keras_t2v.evaluation.motion import centroid_trajectory
from keras_t2v.pipeline import TextToVideo
from keras_t2v.runs import Run


def displacement_and_path(videos: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """(N, T, S, S, 3) uint8, motion axis per clip (N,) 0 = x, 1 = y -> (N, 5): net (x, y)
    displacement of the object's centroid from the first to the last frame where it is seen, the
    path travelled along the motion axis, and the (x, y) where it is first seen; NaN for clips
    without an object."""
    rows = []
    for video, a in zip(videos, axis):
        centers = centroid_trajectory(video)
        centers = centers[~np.isnan(centers).any(axis=1)]
        if len(centers) < 2:
            rows.append((np.nan,) * 5)
            continue
        net = centers[-1] - centers[0]
        rows.append((net[0], net[1], np.abs(np.diff(centers[:, a])).sum(), *centers[0]))
    return np.array(rows)


def main(run_dir: str, n: int = 512, batch: int = 32) -> None:
    run = Run.load(run_dir)
    pipe = TextToVideo.from_pretrained(run_dir)
    g = pipe.video_generator
    layer_names = {layer.name for layer in g.layers}
    names = layer_names & {"skip_shift_frames", "sprite_shift_frames"}
    if not names:
        raise SystemExit(f"{run_dir}: its video generator moves nothing (vgan.moving_skips and vgan.sprite are off)")
    has_odds = "sprite_shift_odds" in layer_names  # vgan.sprite_path_choices > 1
    shift_of = keras.Model(g.inputs, [g.get_layer(name).output for name in [names.pop()] + ["sprite_shift_odds"] * has_odds])
    real, attributes, captions = real_clips(run, "test", n)
    motion = attributes[:, ATTRIBUTE_NAMES.index("motion")]
    axis = np.isin(motion, (UP, DOWN, UP_DOWN)).astype(int)  # 1: along y
    fake, _ = generate_videos(pipe, captions, batch)
    shifts, odds = [], []
    for start in range(0, n, batch):  # the z the pipeline drew for this batch (after Stage-I's)
        rng = np.random.default_rng(start)
        codes = pipe.codes(captions[start : start + batch])
        z_image = rng.normal(size=(len(codes), pipe.image_generator.inputs[1].shape[-1])).astype("float32")
        first = keras.ops.convert_to_numpy(pipe.image_generator([codes, z_image])[0])  # the sprite's shift also reads where its mask is
        z = rng.normal(size=(len(codes), pipe.config.vgan.z_dim)).astype("float32")
        shift, *logits = shift_of([first, codes, z])
        shifts.append(keras.ops.convert_to_numpy(shift))
        odds += [keras.ops.convert_to_numpy(keras.ops.softmax(o)) for o in logits]
    size = real.shape[2]
    shifts = np.concatenate(shifts) * size  # (n, T, 2) pixels
    odds = np.concatenate(odds) if has_odds else None  # (n, H) probabilities of the paths
    predicted_path = np.abs(np.diff(np.take_along_axis(shifts, axis[:, None, None], axis=2)[..., 0], axis=1)).sum(1)
    real_moves, fake_moves = displacement_and_path(real, axis), displacement_and_path(fake, axis)
    print(f"{run_dir}, test captions (N = {n}), pixels of the {size}x{size} frame; net (x, y) from frame 0 to the last, path along the motion axis")
    print("| motion | clips | real net | real path | shift t=31 - t=0 | shift path | video net | video path | real start | video start |"
          + (" odds of the paths |" if has_odds else ""))
    print("|---" * (11 if has_odds else 10) + "|")
    for m, name in enumerate(MOTIONS):
        rows = motion == m
        pair = lambda a: f"({np.nanmean(a[:, 0]):+.1f}, {np.nanmean(a[:, 1]):+.1f})"  # noqa: E731
        print(f"| {name} | {rows.sum()} | {pair(real_moves[rows])} | {np.nanmean(real_moves[rows, 2]):.1f} | "
              f"{pair(shifts[rows, -1] - shifts[rows, 0])} | {predicted_path[rows].mean():.1f} | "
              f"{pair(fake_moves[rows])} | {np.nanmean(fake_moves[rows, 2]):.1f} | "
              f"{pair(real_moves[rows, 3:])} | {pair(fake_moves[rows, 3:])} |"
              + (" " + " / ".join(f"{p:.2f}" for p in odds[rows].mean(0)) + " |" if has_odds else ""))


if __name__ == "__main__":
    main(sys.argv[1])

"""Does Stage-I draw the object where the caption's motion starts?

A linear motion's clip starts with its object on the side it leaves from (the top for "down", the
right for "left"; ../shared/specs/dataset.md, "Motion"), and the video stage moves the object of
Stage-I's frame: a "down" object drawn mid-frame can only fall half the way. For the Stage-I
evaluation's captions and noise (the first caption of clips 0..n-1 of test and test_unseen, z from
seed 0, at the run's stackgan.generation_noise), this prints per motion the mean and spread of the
object's centroid in Stage-I's frames and in the real clips' first frames, in pixels.

The object is what differs from its row's median: every background of Captioned Moving Shapes is
constant along a row (dark, gray, horizontal stripes), and no object is half the frame wide.

    python experiments/stage1_start_positions.py runs/kc runs/kd

Under a minute per run on a 2-core CPU. Numbers are in the README ("Sprite").
"""

import sys

import numpy as np

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, MOTIONS
from keras_t2v.data.records import caption_pool
from keras_t2v.evaluate import real_clips, stage1_frames
from keras_t2v.evaluation.motion import object_centroids
from keras_t2v.export import to_uint8
from keras_t2v.models.stackgan_training import load_stage1, text_codes
from keras_t2v.runs import Run


def centroids(frames: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, 2) object centroid (x, y) in pixels against each row's median."""
    return object_centroids(frames, np.median(frames.astype(np.float32), axis=2, keepdims=True))


def main(run_dirs: list[str], n: int = 512) -> None:
    print("| run, split | motion | real start (x, y) | Stage-I start (x, y) | real spread | Stage-I spread |")
    print("|---|---|---|---|---|---|")
    for run_dir in run_dirs:
        run = Run.load(run_dir)
        model = load_stage1(run, "the start positions")
        model.generator.get_layer("ca").reseed(0)
        for split in ("test", "test_unseen"):
            codes, _ = text_codes(run, split)
            count = min(n, len(codes) // 3)
            motion = caption_pool(run.config.data, split).attributes[:count, ATTRIBUTE_NAMES.index("motion")]
            drawn = centroids(to_uint8(stage1_frames(model, codes, count)))
            real = centroids(real_clips(run, split, count)[0][:, 0])
            for m, name in enumerate(MOTIONS):
                rows = motion == m
                mean = lambda a: f"({np.nanmean(a[rows, 0]):.1f}, {np.nanmean(a[rows, 1]):.1f})"  # noqa: E731
                spread = lambda a: f"({np.nanstd(a[rows, 0]):.1f}, {np.nanstd(a[rows, 1]):.1f})"  # noqa: E731
                print(f"| {run_dir}, {split} | {name} | {mean(real)} | {mean(drawn)} | {spread(real)} | {spread(drawn)} |")


if __name__ == "__main__":
    main(sys.argv[1:])

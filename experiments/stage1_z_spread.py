"""Does a wider z spread where Stage-I draws the object? (`stackgan.generation_z_scale`)

For the Stage-I evaluation's seen captions and noise (the first caption of clips 0..n-1 of test, z
from seed 0, the CA stream restarted at seed 0), this prints per motion the mean and spread of the
object's centroid in Stage-I's frames with z scaled by 1, 2 and 3 (the real first frames' spread
first), and the frame evaluator's all-four accuracy at each scale.

    python experiments/stage1_z_spread.py runs/kk

About a minute on a 2-core CPU once the evaluator is trained. Numbers are in the README ("How noisy
is KID-self").
"""

import sys

import numpy as np

from stage1_start_positions import centroids

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, FRAME_COLUMNS, MOTIONS
from keras_t2v.data.records import caption_pool
from keras_t2v.evaluate import _load_evaluator, accuracy_table, real_clips, stage1_frames
from keras_t2v.evaluation.classifiers import FRAME_ATTRIBUTES
from keras_t2v.export import to_uint8
from keras_t2v.models.stackgan_training import load_stage1, text_codes

SCALES = (1.0, 2.0, 3.0)


def main(run_dir: str, n: int = 512) -> None:
    run, evaluator, _, _ = _load_evaluator(run_dir, None, None)
    model = load_stage1(run, "the z spread probe")
    codes, _ = text_codes(run, "test")
    attributes = caption_pool(run.config.data, "test").attributes[:n]
    motion = attributes[:, ATTRIBUTE_NAMES.index("motion")]

    def row(label: str, where: np.ndarray, extra: str) -> None:
        cells = [f"({np.nanmean(where[motion == m, 0]):.0f}, {np.nanmean(where[motion == m, 1]):.0f}) "
                 f"+- ({np.nanstd(where[motion == m, 0]):.1f}, {np.nanstd(where[motion == m, 1]):.1f})" for m in range(len(MOTIONS))]
        print(f"| {label} | {extra} | " + " | ".join(cells) + " |")

    print(f"{run_dir}, Stage-I frames of the first caption of test clips 0..{n - 1}: object centroid (x, y) +- spread, pixels")
    print("| frames | all four | " + " | ".join(MOTIONS) + " |\n" + "|---" * (len(MOTIONS) + 2) + "|")
    row("real first frames", centroids(real_clips(run, "test", n)[0][:, 0]), "")
    for scale in SCALES:
        model.generator.get_layer("ca").reseed(0)
        frames = stage1_frames(model, codes, n, z_scale=scale)
        accuracy = accuracy_table(evaluator.predict_frame(frames)[1], attributes[:, list(FRAME_COLUMNS)], FRAME_ATTRIBUTES)["all"]
        row(f"Stage-I, z x {scale:g}", centroids(to_uint8(frames)), f"{accuracy:.3f}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/kk")

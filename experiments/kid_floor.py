"""How noisy is KID-self at N = 512, and which part of the videos makes a run's KID-self?

Issue 11 asks for KID-self within 3x its real-vs-real floor. evaluate.py's floor is one draw of an
unbiased estimator whose mean is 0 when both sets come from one distribution (test clips against
val clips), so it can be negative (-39 on seen captions). With the video evaluator's features, this
prints:
- the floor over K disjoint draws of N real train clips against the N real test clips (the
  same seen combinations): its mean, standard deviation and range, the noise a KID-self is read
  against;
- the run's KID-self on each split, as evaluate.py computes it (captions, seeds and batches
  alike), and its mean and standard deviation over 50 random half-size subsets of both sets;
- KID-self within each motion and each shape (about N/6 and N/3 clips), beside the real-vs-real
  KID of the same groups (test against 4x as many train clips), and where the object starts and
  how far it travels (experiments/skip_shifts.py), mean +- standard deviation over the group's
  clips, real and generated: which part of the distribution is off, and how;
- KID of single frames in the frame evaluator's features (frame 0, 15 and 31 of the video, and
  Stage-I's frame) against the real clips' same frames: is the gap in what a frame shows or in
  how it moves?

    python experiments/kid_floor.py runs/kk

About 8 minutes on a 2-core CPU. Numbers are in the README ("How noisy is KID-self").
"""

import sys

import numpy as np

from skip_shifts import displacement_and_path

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, DOWN, UP, UP_DOWN
from keras_t2v.data.records import split_records
from keras_t2v.evaluate import _load_evaluator, generate_videos, real_clips
from keras_t2v.evaluation.metrics import kernel_distance
from keras_t2v.export import to_float
from keras_t2v.pipeline import TextToVideo

N, DRAWS, SUBSETS = 512, 8, 50


def subset_spread(a: np.ndarray, b: np.ndarray, rng: np.random.Generator) -> tuple[float, float]:
    """Mean and standard deviation of KID over SUBSETS random half-size subsets of `a` and `b`."""
    values = [kernel_distance(a[rng.choice(len(a), len(a) // 2, replace=False)], b[rng.choice(len(b), len(b) // 2, replace=False)])
              for _ in range(SUBSETS)]
    return float(np.mean(values)), float(np.std(values))


def train_features(run, evaluator, draws: int):
    """Video-evaluator features and attributes of train clips 0..draws*N-1, N at a time, and the
    frame evaluator's features of the first N clips' frame 0."""
    records, _ = split_records(run.config.data, "train", draws * N)
    features, attributes, batch, first = [], [], [], None
    for record in records:
        batch.append(record["video"].numpy())
        attributes.append(record["attributes"].numpy())
        if len(batch) == N:
            videos = to_float(np.stack(batch))
            features.append(evaluator.predict_video(videos)[0])
            if first is None:
                first = evaluator.predict_frame(videos[:, 0])[0]
            batch = []
    return np.concatenate(features), np.stack(attributes), first


def main(run_dir: str) -> None:
    run, evaluator, _, _ = _load_evaluator(run_dir, None, None)
    pipe = TextToVideo.from_pretrained(run_dir)
    rng = np.random.default_rng(0)
    train, train_attributes, train_first = train_features(run, evaluator, DRAWS)

    for split in ("test", "test_unseen"):
        videos, attributes, captions = real_clips(run, split, N)
        fakes, stage1 = generate_videos(pipe, captions)
        real, _ = evaluator.predict_video(to_float(videos))
        fake, _ = evaluator.predict_video(to_float(fakes))
        floors = [kernel_distance(real, train[k * N : (k + 1) * N]) for k in range(DRAWS)]
        mean, std = subset_spread(real, fake, rng)
        print(f"\n## {split}: KID-self, video evaluator features")
        print(f"run's KID-self {kernel_distance(real, fake):.0f}; over {SUBSETS} half-size subsets {mean:.0f} +- {std:.0f}")
        print(f"real-vs-real against {DRAWS} disjoint draws of {N} train clips: mean {np.mean(floors):.0f}, "
              f"std {np.std(floors):.0f}, range {min(floors):.0f} .. {max(floors):.0f}")
        real_subsets = subset_spread(real, train[:N], rng)
        print(f"real-vs-real (train draw 0) over {SUBSETS} half-size subsets {real_subsets[0]:.0f} +- {real_subsets[1]:.0f}")

        motion = attributes[:, ATTRIBUTE_NAMES.index("motion")]
        axis = np.isin(motion, (UP, DOWN, UP_DOWN)).astype(int)
        real_moves, fake_moves = displacement_and_path(videos, axis), displacement_and_path(fakes, axis)
        spread = lambda a: f"{np.nanmean(a):.1f} +- {np.nanstd(a):.1f}"  # noqa: E731
        print("\n| group | clips | KID-self | real test vs real train | start x, real / video | start y, real / video "
              "| path along the axis, real / video |\n|---|---|---|---|---|---|---|")
        for column in (ATTRIBUTE_NAMES.index("motion"), ATTRIBUTE_NAMES.index("shape")):
            name = ATTRIBUTE_NAMES[column]
            for value, label in enumerate(ATTRIBUTE_VALUES[name]):
                here, there = attributes[:, column] == value, train_attributes[:, column] == value
                moves = " | ".join(f"{spread(real_moves[here, i])} / {spread(fake_moves[here, i])}" for i in (3, 4, 2))
                print(f"| {name} {label} | {here.sum()} | {kernel_distance(real[here], fake[here]):.0f} | "
                      f"{kernel_distance(real[here], train[there][: here.sum() * 4]):.0f} | {moves} |")

        print("\n| frame (frame evaluator features) | KID against the real clips' same frame |\n|---|---|")
        real_frames = {t: evaluator.predict_frame(to_float(videos[:, t]))[0] for t in (0, 15, -1)}
        for label, frames, t in (("Stage-I frame", stage1, 0), ("video frame 0", fakes[:, 0], 0),
                                 ("video frame 15", fakes[:, 15], 15), ("video frame 31", fakes[:, -1], -1)):
            print(f"| {label} | {kernel_distance(real_frames[t], evaluator.predict_frame(to_float(frames))[0]):.0f} |")
        print(f"| real frame 0 of {N} train clips (floor) | {kernel_distance(real_frames[0], train_first):.0f} |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/kk")

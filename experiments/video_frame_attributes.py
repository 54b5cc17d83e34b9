"""Does the video keep what its Stage-I frame shows? The frame evaluator on frames of generated videos.

The text VGAN starts from a Stage-I frame; the evaluation judges the frame and the whole video. This
judges single frames of the video as well: for the evaluation's captions and seeds (the first caption
of clips 0..n-1 of test and test_unseen, batches of 32 seeded by their start), the frame evaluator
names shape, colour, size and background of the Stage-I frame and of video frames 0, 8, 16, 24, 31.
For a run with its Stage-I model, a second table has the same frames judged by Stage-I's own frozen
guide (vgan.frame_guide_weight's judge): where the guide is satisfied and the evaluator is not, G
learned to please the guide, not to draw the shape.

    python experiments/video_frame_attributes.py runs/ja                 # a trained, evaluated run
    python experiments/video_frame_attributes.py keras_t2v/pretrained    # the shipped model

About 40 seconds on a 2-core CPU once the evaluator is trained. Numbers are in the README ("Both together").
"""

import sys
from pathlib import Path

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import numpy as np

from keras_t2v.data.attributes import FRAME_COLUMNS, NUM_VALUES
from keras_t2v.evaluate import _load_evaluator, accuracy_table, generate_videos, real_clips
from keras_t2v.evaluation.classifiers import FRAME_ATTRIBUTES
from keras_t2v.export import to_float
from keras_t2v.pipeline import TextToVideo

TIMES = (0, 8, 16, 24, 31)


def guide_predictions(guide, images: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) uint8 -> (N, 4) the guide's most likely value of each frame attribute."""
    logits = keras.ops.convert_to_numpy(guide.predict(to_float(images), batch_size=128, verbose=0))
    ends = np.cumsum([NUM_VALUES[i] for i in FRAME_COLUMNS])
    return np.stack([part.argmax(1) for part in np.split(logits, ends[:-1], axis=1)], axis=1)


def main(run_dir: str, n: int = 512, batch: int = 32) -> None:
    run, evaluator, _, _ = _load_evaluator(run_dir, None, None)
    pipe = TextToVideo.from_pretrained(run_dir)
    stage1 = Path(run_dir) / "stackgan" / "stackgan.keras"
    guide = None
    if stage1.exists():
        stackgan = keras.models.load_model(stage1, safe_mode=True)
        guide = stackgan.guide if stackgan.guide_weight else None
    rows = {"evaluator": [], "Stage-I guide": []}
    for split in ("test", "test_unseen"):
        _, attributes, captions = real_clips(run, split, n)
        videos, first_frames = generate_videos(pipe, captions, batch)
        frames = {"Stage-I": first_frames}
        frames |= {f"video t={t}": videos[:, t] for t in TIMES}
        for name, images in frames.items():
            predictions = {"evaluator": evaluator.predict_frame(to_float(images))[1]}
            if guide is not None:
                predictions["Stage-I guide"] = guide_predictions(guide, images)
            for judge, predicted in predictions.items():
                table = accuracy_table(predicted, attributes[:, list(FRAME_COLUMNS)], FRAME_ATTRIBUTES)
                rows[judge].append(f"| {split} | {name} | " + " | ".join(f"{table[a]:.3f}" for a in (*FRAME_ATTRIBUTES, "all")) + " |")
    for judge, lines in rows.items():
        if lines:
            print(f"\njudged by the {judge}\n| split | frame | " + " | ".join(FRAME_ATTRIBUTES) + " | all four |")
            print("|---" * (len(FRAME_ATTRIBUTES) + 3) + "|")
            print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1])

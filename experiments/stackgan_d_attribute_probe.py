"""Can the Stage-I discriminator name a real frame's attributes? Its trunk, with a pooled or a flattened head.

The quick preset's Stage-I discriminator trunk (df_dim 32, TF variant: four 4x4 stride-2 convs and
the residual block, 64x64 -> 4x4x256; the `fixes` preset's D) is trained from scratch as a plain
classifier of the four frame attributes (shape, colour, size, background) of the first frames of
real Captioned Moving Shapes clips (the auxiliary loss of stackgan.attribute_weight, Adam 2e-4 /
beta1 0.5, batch 16), then scored on 256 val frames. "pool" is the head Stage-I's D has (the mean
of the 4x4 features); "flatten" reads every position, as vgan.attribute_head=flatten does for video.

    python experiments/stackgan_d_attribute_probe.py pool 1000
    python experiments/stackgan_d_attribute_probe.py flatten 1000
    python experiments/stackgan_d_attribute_probe.py trained runs/fixes   # a trained run's D (and guide), as it is,
                                                                        # on real frames and on its own Stage-I frames

About 1 minute per 1,000 steps on a 2-core Intel Xeon. Numbers are in the README ("Why the video D could not
teach motion", where the video D's probe is too).
"""

import sys

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import tensorflow as tf
from attribute_probe import accuracy, fit
from keras import layers

from keras_t2v.data.attributes import FRAME_ATTRIBUTES, FRAME_COLUMNS, NUM_VALUES
from keras_t2v.data.records import generate_records
from keras_t2v.models.stackgan import stage1_discriminator

COLUMNS = list(FRAME_COLUMNS)
SIZES = [NUM_VALUES[i] for i in COLUMNS]


def batches(split: str, count: int, batch_size: int):
    """(first frames (B, 64, 64, 3) in [-1, 1], frame attributes (B, 4)) of clips 0..count-1."""
    for record in generate_records(0, split, count, 64, 32).batch(batch_size):
        frames = tf.cast(record["video"][:, 0], tf.float32) / 127.5 - 1.0
        yield frames, tf.gather(record["attributes"], COLUMNS, axis=1)


def score(logits_of) -> dict:
    """Accuracy per frame attribute on 256 val first frames."""
    return accuracy(logits_of, batches("val", 256, 32), SIZES, FRAME_ATTRIBUTES)


def score_trained(run_dir: str) -> None:
    """A trained run's D head (and its guide, with stackgan.guide_weight) on 256 real val frames, then
    on the run's own Stage-I frames for the first caption of test clips 0..511 (seed-0 noise, as
    `python -m keras_t2v.evaluate --stage stackgan` draws them): do the judges G answers to agree
    with the evaluator about what G drew?"""
    from keras_t2v.data.records import caption_pool
    from keras_t2v.evaluate import stage1_frames
    from keras_t2v.models.stackgan_training import load_stage1, text_codes
    from keras_t2v.runs import Run

    run = Run.load(run_dir)
    model = load_stage1(run, "the D probe")  # draws as the Stage-I evaluation does
    judges = {"D head": model.attribute_classifier()} | ({"guide": model.guide} if model.guide_weight else {})
    model.generator.get_layer("ca").reseed(0)  # the evaluation's CA noise
    codes, _ = text_codes(run, "test")
    fakes = stage1_frames(model, codes, 512)
    asked = caption_pool(run.config.data, "test").attributes[:512][:, COLUMNS]
    for name, judge in judges.items():
        print(run_dir, name, "val accuracy on real frames:", score(lambda f: judge(f, training=False)))
        right = accuracy(lambda f: judge(f, training=False), [(fakes, asked)], SIZES, FRAME_ATTRIBUTES)
        print(run_dir, name, "agrees with the caption on its Stage-I test frames:", right)


def main(head: str, steps: int) -> None:
    keras.utils.set_random_seed(0)
    d = stage1_discriminator(128, 128, 32, 64, "tf", attribute_classes=sum(SIZES))
    features = d.get_layer("d1_lrelu2").output  # the trunk's last features (B, 4, 4, 256)
    features = layers.GlobalAveragePooling2D()(features) if head == "pool" else layers.Flatten()(features)
    model = keras.Model(d.get_layer("image").output, layers.Dense(sum(SIZES))(features))
    fit(model, batches("train", steps * 16, 16), SIZES, print_every=250)
    print(head, steps, "steps; val accuracy:", score(lambda f: model(f, training=False)))


if __name__ == "__main__":
    if sys.argv[1] == "trained":
        score_trained(sys.argv[2])
    else:
        main(sys.argv[1], int(sys.argv[2]))

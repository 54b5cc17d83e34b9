"""Can the video discriminator name a real clip's attributes? Its trunk, with a pooled or a flattened head.

The quick preset's text-VGAN discriminator trunk (df_dim 16, doubled to 32 in the conditional
model: four 4x4x4 stride-2 Conv3D blocks, 64x64x32 -> 2x4x4x256) is trained from scratch as a
plain classifier of the five attributes of real Captioned Moving Shapes clips (the auxiliary loss
of vgan.attribute_weight, Adam 2e-4 / beta1 0.5, batch 16), then scored on 256 val clips. The two
heads are vgan.attribute_head's options: "pool" (global mean of the last features) and "flatten".

    python experiments/vgan_d_attribute_probe.py pool 300
    python experiments/vgan_d_attribute_probe.py flatten 300

About 6 minutes each on a 2-core CPU. Numbers are in the README ("Why the video D could not teach motion").
"""

import sys

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras
import tensorflow as tf
from attribute_probe import accuracy, fit
from keras import layers

from keras_t2v.data.attributes import NUM_VALUES
from keras_t2v.data.records import generate_records
from keras_t2v.models.vgan import INIT, discriminator


def batches(split: str, count: int, batch_size: int):
    for record in generate_records(0, split, count, 64, 32).batch(batch_size):
        yield tf.cast(record["video"], tf.float32) / 127.5 - 1.0, record["attributes"]


def main(head: str, steps: int) -> None:
    keras.utils.set_random_seed(0)
    d = discriminator(32, 64, 32, attribute_classes=sum(NUM_VALUES))
    # The head of vgan.attribute_head on the trunk's last features (B, 2, 4, 4, 256): their mean or all of them.
    features = d.get_layer("conv4_lrelu").output
    features = layers.GlobalAveragePooling3D()(features) if head == "pool" else layers.Flatten()(features)
    model = keras.Model(d.input, layers.Dense(sum(NUM_VALUES), kernel_initializer=INIT)(features))
    fit(model, batches("train", steps * 16, 16), NUM_VALUES, print_every=50)
    names = ("shape", "color", "size", "motion", "background")
    print(head, steps, "steps; val accuracy:", accuracy(lambda v: model(v, training=False), batches("val", 256, 32), NUM_VALUES, names))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))

"""How fast TensorFlow takes a strided Conv3D's gradients on this CPU, with oneDNN off or on.

TensorFlow reads TF_ENABLE_ONEDNN_OPTS when it is first imported, and turns oneDNN on by itself
only on CPUs with AVX512_VNNI, AVX512_BF16, AMX and the like; `keras_t2v` sets it to 1 on import.
This script imports TensorFlow alone, so the variable is whatever the shell gives:

    TF_ENABLE_ONEDNN_OPTS=0 python experiments/conv3d_gradients.py
    TF_ENABLE_ONEDNN_OPTS=1 python experiments/conv3d_gradients.py

It times the forward pass and both gradients (to the input and to the kernel) of the evaluator's
motion-trunk layers at the `tiny` preset's size (batch 32, 8 frames of 16x16) and of the video
discriminator's first layer at 64x64x32. A few seconds. Numbers are in the README ("A CPU without
AVX-512").
"""

import os
import time

import tensorflow as tf

LAYERS = [  # (input shape, kernel size, strides, output channels)
    ((32, 8, 16, 16, 3), (3, 5, 5), (1, 2, 2), 16),
    ((32, 8, 16, 16, 16), (3, 3, 3), (2, 2, 2), 32),
    ((8, 32, 64, 64, 3), (4, 4, 4), (2, 2, 2), 64),
]


def milliseconds(fn, *args, repeats: int = 5) -> float:
    fn = tf.function(fn)
    fn(*args)
    start = time.perf_counter()
    for _ in range(repeats):
        fn(*args)
    return (time.perf_counter() - start) / repeats * 1000


def main() -> None:
    print(f"TF_ENABLE_ONEDNN_OPTS={os.environ.get('TF_ENABLE_ONEDNN_OPTS', '(unset)')}, TensorFlow {tf.__version__}")
    print("| input | kernel | strides | forward (ms) | gradient to the input (ms) | gradient to the kernel (ms) |")
    print("|---|---|---|---|---|---|")
    for shape, kernel, strides, channels in LAYERS:
        x, w = tf.random.uniform(shape), tf.random.uniform(kernel + (shape[-1], channels))
        s = (1, *strides, 1)
        dy = tf.ones_like(tf.nn.conv3d(x, w, s, "SAME"))
        forward = milliseconds(lambda x, w: tf.nn.conv3d(x, w, s, "SAME"), x, w)
        to_input = milliseconds(lambda dy, w: tf.raw_ops.Conv3DBackpropInputV2(
            input_sizes=shape, filter=w, out_backprop=dy, strides=s, padding="SAME"), dy, w)
        to_kernel = milliseconds(lambda x, dy: tf.raw_ops.Conv3DBackpropFilterV2(
            input=x, filter_sizes=w.shape, out_backprop=dy, strides=s, padding="SAME"), x, dy)
        print(f"| {shape} | {kernel} | {strides} | {forward:.1f} | {to_input:.1f} | {to_kernel:.1f} |")


if __name__ == "__main__":
    main()

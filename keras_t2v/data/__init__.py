"""Datasets: the built-in Captioned Moving Shapes, TFRecord shards and tf.data pipelines."""

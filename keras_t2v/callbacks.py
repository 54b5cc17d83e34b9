"""TensorBoard extras: text samples and the embedding projector."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from tensorboard.plugins import projector


class TextSamples(keras.callbacks.Callback):
    """Writes `describe(model) -> list[str]` as a Markdown table of TensorBoard text every epoch."""

    def __init__(self, log_dir: str | Path, tag: str, describe):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.tag, self.describe = tag, describe

    def on_epoch_end(self, epoch, logs=None):
        rows = self.describe(self.model)
        with self.writer.as_default():
            tf.summary.text(self.tag, "\n".join(rows), step=epoch)
        self.writer.flush()


def write_projector(log_dir: str | Path, name: str, vectors: np.ndarray, labels: list[str], sprite: np.ndarray | None = None, thumb: int = 0) -> Path:
    """Saves `vectors` (N, d) with one label per row for TensorBoard's projector in `log_dir`.

    `sprite` (an image of N thumbnails of `thumb` pixels in a square grid) is optional.
    """
    log_dir = Path(log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    metadata = f"{name}_metadata.tsv"
    (log_dir / metadata).write_text("".join(label.replace("\t", " ").replace("\n", " ") + "\n" for label in labels))
    variable = tf.Variable(np.asarray(vectors, np.float32), name=name)
    checkpoint = tf.train.Checkpoint(**{name: variable})
    checkpoint.save(str(log_dir / f"{name}.ckpt"))
    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.metadata_path = metadata
    if sprite is not None:
        import imageio.v2 as imageio

        imageio.imwrite(log_dir / f"{name}_sprite.png", sprite)
        embedding.sprite.image_path = f"{name}_sprite.png"
        embedding.sprite.single_image_dim.extend([thumb, thumb])
    projector.visualize_embeddings(str(log_dir), config)
    return log_dir

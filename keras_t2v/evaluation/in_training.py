"""Evaluation while a GAN stage trains: a number per epoch, the best checkpoint, collapse warnings.

With train.eval_every = K > 0, every K epochs the StackGAN and VGAN stages score a small fixed
set (the first train.eval_n val clips: their first caption's code and, for the video stage,
their real first frame, fixed noise) with the evaluator classifiers of
shared/specs/evaluation.md, and add to the epoch's logs (so TensorBoard plots them and the
checkpoint manager keeps `best.keras` by "eval_all"):

    eval_<attribute>, eval_all   attribute accuracy of the generated frames or videos
    eval_kid_self                KID between evaluator features of generated and real samples (video)

and warn on collapse signals: the discriminator pinned (D(real) > 0.99 and D(fake) < 0.01 for the
epoch), recall near 0 (precision/recall, k = 3), or the same output for two noise seeds.
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.data.attributes import ATTRIBUTE_NAMES
from keras_t2v.data.records import caption_rows
from keras_t2v.evaluation.classifiers import EVALUATOR_EPOCHS, FRAME_ATTRIBUTES, Evaluator, train_evaluator
from keras_t2v.evaluation.metrics import kernel_distance, precision_recall
from keras_t2v.export import to_float

N = keras.ops.convert_to_numpy


def enabled(run) -> bool:
    """train.eval_every > 0 and the data has attributes to score (Captioned Moving Shapes)."""
    from keras_t2v.data.records import is_shapes

    if not run.config.train.eval_every:
        return False
    if not is_shapes(run.config.data):
        print("train.eval_every ignored: imported clips have no attributes to score", flush=True)
        return False
    return True


def checkpoint_monitor(run) -> dict:
    """open_stage arguments: keep the best checkpoint by eval_all when evaluating during training."""
    return {"monitor": "eval_all", "mode": "max"} if enabled(run) else {}


def load_or_train_evaluator(run, epochs: int | None = None, directory=None) -> Evaluator:
    """The evaluator of `directory` (default: the run's shared one), trained there on first use
    for `epochs` (default EVALUATOR_EPOCHS)."""
    from keras_t2v.evaluate import default_evaluator_dir

    directory = Path(directory) if directory else default_evaluator_dir(run)
    if not (directory / "video_evaluator.keras").exists():
        print(f"training the evaluator into {directory} (once per data configuration)", flush=True)
        train_evaluator(run.config.data, directory, train_count=min(run.config.data.train_size, 4096),
                        epochs=epochs or EVALUATOR_EPOCHS)
    return Evaluator.load(directory)


def collapse_warnings(logs: dict, recall: float | None, distinct: float) -> list[str]:
    """Human-readable collapse signals of an epoch (empty when none)."""
    found = []
    if logs.get("d_real", 0.5) > 0.99 and logs.get("d_fake", 0.5) < 0.01:
        found.append(f"the discriminator is pinned (D(real) {logs['d_real']:.3f}, D(fake) {logs['d_fake']:.3f}): G gets no signal")
    if recall is not None and recall < 0.05:
        found.append(f"recall {recall:.2f}: generated samples cover almost none of the real ones")
    if distinct < 1.0:
        found.append(f"two noise seeds give the same output (mean difference {distinct:.2f} grey levels)")
    return found


class InTrainingEvaluation(keras.callbacks.Callback):
    """Scores the model every `every` epochs (see the module docstring). `sample(model, noise)`
    returns float outputs in [-1, 1]: frames (N, S, S, 3) for "frame", videos (N, T, S, S, 3) for
    "video"; `truth` (N, 5) attributes; `real` the matching real outputs (for KID and recall)."""

    def __init__(self, stage: str, kind: str, evaluator: Evaluator, sample, noise: list[np.ndarray], truth: np.ndarray,
                 real: np.ndarray | None = None, every: int = 1, check_distinct: bool = True):
        super().__init__()
        self.stage, self.kind, self.evaluator, self.sample = stage, kind, evaluator, sample
        self.check_distinct = check_distinct
        self.noise, self.truth, self.every = noise, truth, max(1, every)
        self.real_features = None if real is None else evaluator.predict_video(real)[0]
        self.warnings: list[str] = []

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        first, second = (np.asarray(self.sample(self.model, z)) for z in self.noise)
        distinct = float(np.abs(first - second).mean() * 127.5) if self.check_distinct else float("inf")
        recall = None
        if self.kind == "video":
            features, predicted = self.evaluator.predict_video(first)
            names, truth = ATTRIBUTE_NAMES, self.truth
        else:
            features, predicted = self.evaluator.predict_frame(first)
            names, truth = FRAME_ATTRIBUTES, self.truth[:, [ATTRIBUTE_NAMES.index(n) for n in FRAME_ATTRIBUTES]]
        scores = {f"eval_{n}": float(np.mean(predicted[:, i] == truth[:, i])) for i, n in enumerate(names)}
        scores["eval_all"] = float(np.mean((predicted == truth).all(axis=1)))
        if self.real_features is not None:
            scores["eval_kid_self"] = kernel_distance(self.real_features, features)
            recall = precision_recall(self.real_features, features, k=3)[1]
        if logs is not None:
            logs.update(scores)
        for message in collapse_warnings(logs or {}, recall, distinct):
            line = f"WARNING [{self.stage}] epoch {epoch + 1}: {message}"
            self.warnings.append(line)
            print(line, flush=True)


def _fixed_noise(n: int, z_dim: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.normal(size=(n, z_dim)).astype("float32") for _ in range(2)]


def video_evaluation(run, model, val_codes: np.ndarray, val_captions: list[str]) -> InTrainingEvaluation:
    """For the VGAN stage: the first train.eval_n val clips (as the evaluation report takes them),
    their real first frame and their first caption's code, looked up in `val_codes` (rows aligned
    with `val_captions`); noise-free variants (image) skip the distinct-seeds check."""
    from keras_t2v.evaluate import real_clips

    evaluator = load_or_train_evaluator(run)
    videos, truth, captions = real_clips(run, "val", run.config.train.eval_n)
    first, codes = to_float(videos[:, 0]), val_codes[N(caption_rows(val_captions)(tf.constant(captions)))]

    def sample(m, z):
        return N(m.generate(first, codes, z)[0])

    return InTrainingEvaluation("vgan", "video", evaluator, sample, _fixed_noise(len(codes), model.z_dim), truth,
                                to_float(videos), run.config.train.eval_every, check_distinct=model.variant != "image")


def frame_evaluation(run, model, val_codes: np.ndarray, val_attributes: np.ndarray) -> InTrainingEvaluation:
    """For the StackGAN Stage-I stage: the first caption's code of val clips 0..eval_n-1 and their
    attributes; the CA noise is fixed too (its generator state is restored afterwards)."""
    evaluator = load_or_train_evaluator(run)
    n = min(run.config.train.eval_n, len(val_attributes))
    codes = val_codes[0 : 3 * n : 3]

    def sample(m, z):
        ca = m.generator.get_layer("ca")
        before = ca.reseed(0)
        frames = N(m.generate(codes, z))
        ca.restore(before)
        return frames

    return InTrainingEvaluation("stackgan", "frame", evaluator, sample, _fixed_noise(n, model.z_dim), val_attributes[:n],
                                None, run.config.train.eval_every)

"""Training the text stages: word vectors ("words") and the sentence VAE ("vae").

Outputs in the run directory:
    words/vectors.bin        FastText trained on the train captions (Facebook .bin, no pickle)
    vae/vae.keras            the trained TextVAE
    vae/encoder.keras        x (B, 7500) -> [z_mean, z_log_var]; the next stage uses z_mean
    vae/report.json          final losses and the attribute-distance probe
    vae/checkpoints/         atomic per-epoch checkpoints (resume with --resume)
    logs/vae/                TensorBoard scalars, decoded reconstructions (text), projector
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.callbacks import TextSamples, write_projector
from keras_t2v.checkpoints import CheckpointManager, EpochCheckpoint, NaNGuard, TrainingDiverged
from keras_t2v.data.records import caption_pool
from keras_t2v.runs import Run
from keras_t2v.text.probe import attribute_distances
from keras_t2v.text.vae import TextVAE
from keras_t2v.text.word_vectors import SentenceEncoder, file_id, prepare_word_vectors, sentence_encoder


@dataclasses.dataclass
class StageResult:
    stage: str
    seconds: float
    logs: dict
    skipped: bool = False

    def summary(self) -> str:
        if self.skipped:
            return f"[{self.stage}] finished model found, skipped (--force retrains)"
        losses = ", ".join(f"{k} {v:.4g}" for k, v in self.logs.items())
        return f"[{self.stage}] {self.seconds:.1f} s; {losses}"


def vectors_path(run: Run) -> Path:
    return Path(run.config.words.vectors_path) if run.config.words.vectors_path else run.root / "words" / "vectors.bin"


def train_words(run: Run, force: bool = False) -> StageResult:
    """Trains FastText on the train captions unless the config names a vectors file."""
    start = time.time()
    path = vectors_path(run)
    if run.config.words.vectors_path or (path.exists() and not force):
        return StageResult("words", 0.0, {}, skipped=True)
    path.unlink(missing_ok=True)
    captions = caption_pool(run.config.data, "train").captions.reshape(-1).tolist()
    prepare_word_vectors(run.config.words, captions, path, seed=run.config.train.seed)
    return StageResult("words", time.time() - start, {"sentences": len(captions)})


def load_encoder(run: Run) -> tuple[SentenceEncoder, str]:
    """The run's sentence encoder and the identity of its vectors file (for cache keys)."""
    path = vectors_path(run)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no word vectors yet; train the 'words' stage first")
    return sentence_encoder(run.config.words, path), file_id(path)


def sentence_matrix(run: Run, split: str) -> tuple[np.ndarray, list[str]]:
    """(N * 3, max_words * dim) sentence vectors of every caption of `split`, cached, and the captions."""
    encoder, vectors_id = load_encoder(run)
    captions = caption_pool(run.config.data, split).captions.reshape(-1).tolist()
    return encoder.encode_cached(captions, run.cache_dir, vectors_id), captions


def make_optimizer(name: str, learning_rate: float) -> keras.optimizers.Optimizer:
    options = {"rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam}
    if name not in options:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {sorted(options)}")
    return options[name](learning_rate=learning_rate)


def train_vae(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    """Trains the sentence VAE with checkpoints, NaN guard and TensorBoard; exports the encoder."""
    cfg = run.config
    out = run.stage_dir("vae")
    final = out / "vae.keras"
    if final.exists() and not force:
        return StageResult("vae", 0.0, {}, skipped=True)
    manager = CheckpointManager(out / "checkpoints", keep=cfg.train.keep_checkpoints)
    if force:
        shutil.rmtree(out / "checkpoints", ignore_errors=True)
        final.unlink(missing_ok=True)
    elif manager.latest() is not None and not resume:
        raise RuntimeError(
            f"{out}/checkpoints holds an interrupted run: pass --resume to continue it or --force to start over"
        )

    start = time.time()
    keras.utils.set_random_seed(cfg.train.seed)
    train_x, _ = sentence_matrix(run, "train")
    val_x, val_captions = sentence_matrix(run, "val")
    encoder, _ = load_encoder(run)

    restored = manager.load_latest() if resume else None
    if restored is not None:
        vae, initial_epoch = restored
    else:
        vae = TextVAE(train_x.shape[1], cfg.vae.intermediate_dim, cfg.vae.latent_dim, cfg.vae.output, seed=cfg.train.seed)
        vae.compile(optimizer=make_optimizer(cfg.vae.optimizer, cfg.vae.learning_rate), jit_compile=cfg.train.jit_compile)
        initial_epoch = 0

    train_ds = (
        tf.data.Dataset.from_tensor_slices(train_x)
        .shuffle(len(train_x), seed=cfg.train.seed)
        .batch(cfg.vae.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices(val_x).batch(cfg.vae.batch_size)
    log_dir = run.log_dir("vae")
    shown = list(range(0, len(val_captions), max(1, len(val_captions) // 8)))[:8]

    def decoded_rows(model):
        recon = model.predict(val_x[shown], verbose=0)
        rows = ["| caption | nearest words of the reconstruction |", "|---|---|"]
        return rows + [f"| {val_captions[i]} | {' '.join(encoder.nearest_words(r))} |" for i, r in zip(shown, recon)]

    guard = NaNGuard("vae")
    callbacks = [
        guard,
        EpochCheckpoint(manager, cfg.train.checkpoint_every, cfg.vae.epochs),
        keras.callbacks.TensorBoard(str(log_dir)),
        TextSamples(log_dir / "samples", "reconstructions", decoded_rows),
    ]
    history = vae.fit(
        train_ds, validation_data=val_ds, epochs=cfg.vae.epochs, initial_epoch=initial_epoch,
        callbacks=callbacks, verbose=2, shuffle=False,
    )
    if guard.failure:
        latest = manager.latest()
        raise TrainingDiverged(
            f"{guard.failure}; weights of the last good epoch restored in memory, "
            f"last checkpoint on disk: {latest[1] if latest else 'none'}"
        )

    def encode_captions(captions):
        return vae.encode(encoder.encode_many(captions)[0])

    probe = attribute_distances(lambda c: keras.ops.convert_to_numpy(encode_captions(c)), seed=cfg.train.seed)
    probe_input = attribute_distances(lambda c: encoder.encode_many(c)[0], seed=cfg.train.seed)
    codes = keras.ops.convert_to_numpy(vae.encode(val_x[:1000]))
    write_projector(log_dir, "vae_latent", codes, val_captions[:1000])

    vae.encoder.save(out / "encoder.keras")
    tmp = out / "vae.tmp.keras"
    vae.save(tmp)
    tmp.replace(final)
    logs = {k: float(v[-1]) for k, v in history.history.items()} if history.history else {}
    (out / "report.json").write_text(json.dumps({"final": logs, "latent_distances": probe, "input_distances": probe_input}, indent=1))
    return StageResult("vae", time.time() - start, logs)

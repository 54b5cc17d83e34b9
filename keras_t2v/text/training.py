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

import json
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.callbacks import TextSamples, write_projector
from keras_t2v.data.records import caption_pool
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, make_optimizer, open_stage, restore_or_build, save_final
from keras_t2v.text.probe import attribute_distances, probe_accuracy
from keras_t2v.text.vae import TextVAE
from keras_t2v.text.word_vectors import SentenceEncoder, file_id, prepare_word_vectors, sentence_encoder


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


def train_vae(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    """Trains the sentence VAE with checkpoints, NaN guard and TensorBoard; exports the encoder."""
    cfg = run.config
    out, manager, final, skip = open_stage(run, "vae", "vae.keras", resume, force, cfg.vae.epochs, monitor="val_loss")
    if skip:
        return StageResult("vae", 0.0, {}, skipped=True)
    start = time.time()
    train_x, _ = sentence_matrix(run, "train")
    val_x, val_captions = sentence_matrix(run, "val")
    encoder, _ = load_encoder(run)

    def build():
        vae = TextVAE(train_x.shape[1], cfg.vae.intermediate_dim, cfg.vae.latent_dim, cfg.vae.output,
                      kl_weight=cfg.vae.kl_weight, seed=cfg.train.seed)
        vae.compile(optimizer=make_optimizer(cfg.vae.optimizer, cfg.vae.learning_rate), jit_compile=cfg.train.jit_compile)
        return vae

    vae, initial_epoch = restore_or_build(run, manager, resume, build)

    train_ds = (
        tf.data.Dataset.from_tensor_slices(train_x)
        .shuffle(len(train_x), seed=cfg.train.seed)
        .batch(cfg.vae.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    val_ds = tf.data.Dataset.from_tensor_slices(val_x).batch(cfg.vae.batch_size)
    shown = list(range(0, len(val_captions), max(1, len(val_captions) // 8)))[:8]

    def decoded_rows(model):
        recon = np.asarray(model.predict(val_x[shown], verbose=0), np.float32)
        rows = ["| caption | nearest words of the reconstruction |", "|---|---|"]
        return rows + [f"| {val_captions[i]} | {' '.join(encoder.nearest_words(r))} |" for i, r in zip(shown, recon)]

    samples = TextSamples(run.log_dir("vae") / "samples", "reconstructions", decoded_rows)
    logs = fit_stage(run, "vae", vae, manager, train_ds, val_ds, cfg.vae.epochs, initial_epoch, [samples])

    def encode_captions(captions):
        return keras.ops.convert_to_numpy(vae.encode(encoder.encode_many(captions)[0]))

    report = {"final": logs}
    pool = caption_pool(cfg.data, "train")
    if pool.attributes is not None:  # the probes need Captioned Moving Shapes labels
        train_attributes = np.repeat(pool.attributes, 3, axis=0)
        report |= {
            "latent_distances": attribute_distances(encode_captions, seed=cfg.train.seed),
            "input_distances": attribute_distances(lambda c: encoder.encode_many(c)[0], seed=cfg.train.seed),
            "probe_latent": probe_accuracy(keras.ops.convert_to_numpy(vae.encode(train_x)), train_attributes),
            "probe_input": probe_accuracy(train_x, train_attributes),
        }
    write_projector(run.log_dir("vae"), "vae_latent", encode_captions(val_captions[:1000]), val_captions[:1000])
    vae.encoder.save(out / "encoder.keras")
    save_final(vae, final)
    (out / "report.json").write_text(json.dumps(report, indent=1))
    return StageResult("vae", time.time() - start, logs)

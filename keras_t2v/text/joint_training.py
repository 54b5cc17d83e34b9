"""Training the joint embedding stage ("joint").

Outputs in the run directory:
    joint/joint.keras          the trained JointEmbedding (both towers)
    joint/text_encoder.keras   sentence (B, 7500) -> text code (B, embed): what the GANs condition on
    joint/report.json          final metrics, retrieval R@1/5/10 on val (100 candidates) and, for
                               Captioned Moving Shapes, which attributes the text and frame codes keep
    logs/joint/                TensorBoard scalars and the projector (text and frame codes, sprite)
"""

from __future__ import annotations

import hashlib
import json
import os
import time

import keras
import numpy as np

from keras_t2v.callbacks import write_projector
from keras_t2v.config import ConfigError, to_dict
from keras_t2v.data.records import split_records
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, make_optimizer, open_stage, restore_or_build, save_final
from keras_t2v.text.joint_embedding import JointEmbedding, recall_at_k, use_pretrained_xception
from keras_t2v.export import to_float
from keras_t2v.text.pairs import ClipBatchSampler, KeyFrames, PairSampler, collect_key_frames
from keras_t2v.text.probe import probe_accuracy
from keras_t2v.text.training import sentence_matrix

PAIRS_PER_GROUP = 6  # 3 positives + 3 negatives per anchor caption


def key_frames(run: Run, split: str, clip_frames: int = 1) -> KeyFrames:
    """Key frames, keys and attributes of every clip of `split`, cached in the run's cache directory;
    with clip_frames = K > 1 (joint.clip_frames), K evenly spaced frames stacked on channels (`collect_key_frames`)."""
    data = to_dict(run.config)["data"]
    what = {**data, "split": split, "fields": KeyFrames._fields} | ({"clip_frames": clip_frames} if clip_frames > 1 else {})
    digest = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
    path = run.cache_dir / f"keyframes-{split}-{digest}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as cached:
            return KeyFrames(**{k: cached[k] for k in KeyFrames._fields})
    records, _ = split_records(run.config.data, split)
    result = collect_key_frames(records, clip_frames)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **result._asdict())
    os.replace(tmp, path)
    return result


def codes(model: JointEmbedding, sentences: np.ndarray, frames: np.ndarray, batch: int = 256):
    """(text codes, frame codes) of sentences (N, D) and float frames (M, S, S, 3)."""
    text = np.asarray(model.text_tower.predict(sentences, batch_size=batch, verbose=0), np.float32)
    frame = np.asarray(model.frame_tower.predict(frames, batch_size=batch, verbose=0), np.float32)
    return text, frame


def attribute_probes(model: JointEmbedding, sentences: np.ndarray, key_frames: KeyFrames) -> dict:
    """Held-out accuracy of an MLP probe reading the five attributes from the text codes of every
    caption (sentences (3N, D), row 3i + j = caption j of clip i) and from the frame codes of the
    clips' first frames; {} for imported clips, which have no attribute labels.

    Retrieval can only use what both codes keep: an attribute at chance on either side is lost.
    """
    if (key_frames.attributes < 0).any():
        return {}
    text, frame = codes(model, sentences, to_float(key_frames.frames[:, 0]))
    return {
        "probe_text_code": probe_accuracy(text, np.repeat(key_frames.attributes, 3, axis=0)),
        "probe_frame_code": probe_accuracy(frame, key_frames.attributes),
    }


def sprite(frames: np.ndarray) -> tuple[np.ndarray, int]:
    """Square grid image of uint8 thumbnails (N, S, S, 3) for the projector, and the thumb size."""
    n, s = len(frames), frames.shape[1]
    side = int(np.ceil(np.sqrt(n)))
    grid = np.zeros((side * s, side * s, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, side)
        grid[r * s : (r + 1) * s, c * s : (c + 1) * s] = frame
    return grid, s


def train_joint(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    cfg = run.config
    j = cfg.joint
    if j.attribute_weight and j.loss != "infonce":
        raise ConfigError("joint.attribute_weight trains on the batches of joint.loss=infonce")
    if j.hard_negatives and j.loss == "infonce":
        raise ValueError("joint.hard_negatives samples pairs for the contrastive loss; with joint.loss=infonce every other clip of the batch is a negative")
    out, manager, final, skip = open_stage(run, "joint", "joint.keras", resume, force, j.epochs, monitor="val_loss")
    if skip:
        return StageResult("joint", 0.0, {}, skipped=True)
    vae_path = run.stage_output("vae", "vae.keras", "the joint stage") if j.text_input == "vae" else None
    start = time.time()
    train_sentences, _ = sentence_matrix(run, "train")
    val_sentences, val_captions = sentence_matrix(run, "val")
    train_key_frames = key_frames(run, "train", j.clip_frames)
    val_key_frames = key_frames(run, "val", j.clip_frames)
    if j.attribute_weight and (train_key_frames.attributes < 0).any():
        raise ConfigError("joint.attribute_weight needs attribute labels: Captioned Moving Shapes data, not imported clips")
    val_frames = val_key_frames.frames

    def build():
        model = JointEmbedding(
            input_dim=train_sentences.shape[1], vae_intermediate=cfg.vae.intermediate_dim, latent_dim=cfg.vae.latent_dim,
            hidden_dim=j.hidden_dim, embed_dim=j.embed_dim, dropout=j.dropout, frame_tower=j.frame_tower,
            image_size=cfg.data.image_size, cnn_filters=j.cnn_filters, margin=j.margin, activation=j.activation,
            finetune_vae=j.finetune_vae, text_input=j.text_input, loss=j.loss, clip_frames=j.clip_frames,
            attribute_weight=j.attribute_weight, word_dim=cfg.words.vector_size,
        )
        if vae_path:
            model.vae_encoder.set_weights(keras.models.load_model(vae_path, safe_mode=True).encoder.get_weights())
        if j.xception_weights and j.frame_tower == "xception":
            use_pretrained_xception(model.frame_tower, j.xception_weights)
        model.compile(optimizer=make_optimizer(j.optimizer, j.learning_rate), jit_compile=cfg.train.jit_compile)
        return model

    model, initial_epoch = restore_or_build(run, manager, resume, build)

    if j.loss == "infonce":
        labelled = bool(j.attribute_weight)
        train = ClipBatchSampler(train_sentences, *train_key_frames[:2], j.batch_size, seed=cfg.train.seed,
                                 attributes=train_key_frames.attributes if labelled else None)
        val = ClipBatchSampler(val_sentences, *val_key_frames[:2], j.batch_size, seed=cfg.train.seed + 1,
                               attributes=val_key_frames.attributes if labelled else None)
    else:
        groups = max(1, j.batch_size // PAIRS_PER_GROUP)
        sampler_args = dict(groups=groups, positives=j.positives, negatives=j.negatives, hard_negatives=j.hard_negatives)
        train = PairSampler(train_sentences, *train_key_frames, seed=cfg.train.seed, **sampler_args)
        val = PairSampler(val_sentences, *val_key_frames, seed=cfg.train.seed + 1, **sampler_args)
    logs = fit_stage(run, "joint", model, manager, train, val, j.epochs, initial_epoch)

    # Retrieval on val: the first caption of each clip against its first frame (or its stacked clip frames).
    text_codes, frame_codes = codes(model, val_sentences[0::3], to_float(val_frames[:, 0]))
    retrieval = recall_at_k(text_codes, frame_codes, group=min(100, len(text_codes)))
    shown = min(500, len(text_codes))
    write_projector(run.log_dir("joint") / "text_codes", "text_codes", text_codes[:shown], val_captions[0::3][:shown])
    grid, thumb = sprite(val_frames[:shown, 0, ..., :3])  # the first frame
    write_projector(run.log_dir("joint") / "frame_codes", "frame_codes", frame_codes[:shown], val_captions[0::3][:shown], grid, thumb)

    model.text_tower.save(out / "text_encoder.keras")
    save_final(model, final)
    probes = attribute_probes(model, train_sentences, train_key_frames)
    (out / "report.json").write_text(json.dumps({"final": logs, "retrieval_val": retrieval, **probes}, indent=1))
    return StageResult("joint", time.time() - start, {**logs, **{k: v for k, v in retrieval.items() if "R@" in k}})

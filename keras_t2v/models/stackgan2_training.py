"""Training StackGAN Stage-II ("stackgan2"): the frozen Stage-I's frames refined to 4x their size.

Stage-II learns from real first frames rendered at 4 x data.image_size (Captioned Moving Shapes
can be re-rendered at any size; imported clips cannot). Its low-resolution input is the frozen
Stage-I's output for the caption, drawn with fresh noise every batch, as in both originals.
Optional: `--stage stackgan2`, or part of `all` with stackgan.stage2 = true.

Outputs in the run directory:
    stackgan2/stackgan2.keras   the trained StackGANStageII
    stackgan2/samples.png       rows: val captions; columns: Stage-I frame (4x nearest), Stage-II frame, real frame
    stackgan2/report.json       final losses
    logs/stackgan2/             TensorBoard scalars and the sample grid every epoch
"""

from __future__ import annotations

import json
import os
import time

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.data.records import shapes_seed_and_count
from keras_t2v.data.shapes import describe_clip, render_frame
from keras_t2v.export import save_image, to_float, to_uint8
from keras_t2v.models.stackgan_model import StackGANStageI, StackGANStageII  # noqa: F401  (registers Stage-I for loading)
from keras_t2v.models.stackgan_training import GRID_CAPTIONS, FrameTextSampler, HalveLearningRate, load_stage1, text_codes
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, open_stage, restore_or_build, save_final
from keras_t2v.text.joint_training import key_frames


def high_res_first_frames(run: Run, split: str) -> np.ndarray:
    """(N, 4S, 4S, 3) uint8: the first frame of every clip of `split` rendered at 4x the clip size,
    cached in the run's cache directory."""
    data = run.config.data
    seed, count = shapes_seed_and_count(data, split)
    size = 4 * data.image_size
    path = run.cache_dir / f"first-frames-{split}-{seed}-{count}-{size}-{data.num_frames}.npy"
    if path.exists():
        return np.load(path, allow_pickle=False)
    frames = np.stack([render_frame(describe_clip(seed, split, i), size, data.num_frames) for i in range(count)])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.npy")
    np.save(tmp, frames)
    os.replace(tmp, path)
    return frames


class Stage2Sampler(FrameTextSampler):
    """FrameTextSampler's batches of high-resolution frames plus "low_res": Stage-I's frames for the
    same text codes, with fresh noise."""

    def __init__(self, stage1: StackGANStageI, frames, codes, keys, batch_size, seed=0, **kwargs):
        super().__init__(frames, codes, keys, batch_size, seed, **kwargs)
        self.stage1 = stage1

    def __getitem__(self, index):
        batch = super().__getitem__(index)
        z = np.random.default_rng([self.seed, self.epoch, index, 2]).normal(size=(len(batch["embedding"]), self.stage1.z_dim))
        batch["low_res"] = keras.ops.convert_to_numpy(self.stage1.generate(batch["embedding"], z.astype("float32")))
        return batch


def sample_grid(stage1: StackGANStageI, model: StackGANStageII, codes, real, noise) -> np.ndarray:
    """uint8 grid: per caption code, the Stage-I frame (nearest 4x), its Stage-II refinement, the real frame."""
    low = keras.ops.convert_to_numpy(stage1.generate(codes, noise))
    high = keras.ops.convert_to_numpy(model.generate(low, codes))
    up = low.repeat(4, axis=1).repeat(4, axis=2)
    return to_uint8(np.concatenate([np.concatenate(row, axis=1) for row in zip(up, high, real)], axis=0))


class Stage2Grid(keras.callbacks.Callback):
    def __init__(self, log_dir, stage1, codes, real, noise):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.stage1, self.codes, self.real, self.noise = stage1, codes, real, noise

    def grid(self):
        return sample_grid(self.stage1, self.model, self.codes, self.real, self.noise)

    def on_epoch_end(self, epoch, logs=None):
        with self.writer.as_default():
            tf.summary.image("samples", self.grid()[None], step=epoch)
        self.writer.flush()


def train_stackgan2(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    cfg = run.config
    sg = cfg.stackgan
    out, manager, final, skip = open_stage(run, "stackgan2", "stackgan2.keras", resume, force, sg.stage2_epochs)
    if skip:
        return StageResult("stackgan2", 0.0, {}, skipped=True)
    start = time.time()
    stage1 = load_stage1(run, "Stage-II", generation_noise=sg.training_noise)
    stage1.trainable = False
    codes, _ = text_codes(run, "train")
    val_codes, _ = text_codes(run, "val")
    frames, val_frames = high_res_first_frames(run, "train"), high_res_first_frames(run, "val")

    def build():
        model = StackGANStageII(embed_dim=codes.shape[1], c_dim=sg.c_dim, gf_dim=sg.gf_dim, df_dim=sg.df_dim, r_num=sg.r_num,
                                input_size=cfg.data.image_size, variant=sg.variant, kl_coeff=sg.kl_coeff,
                                generation_noise=sg.generation_noise, seed=cfg.train.seed)
        return model.compile_adam(sg.learning_rate, sg.beta1, jit_compile=cfg.train.jit_compile)

    model, initial_epoch = restore_or_build(run, manager, resume, build)
    shown = np.arange(min(GRID_CAPTIONS, len(val_frames)))
    noise = np.random.default_rng(0).normal(size=(len(shown), stage1.z_dim)).astype("float32")
    grid = Stage2Grid(run.log_dir("stackgan2") / "samples", stage1, val_codes[3 * shown], to_float(val_frames[shown]), noise)
    sampler = Stage2Sampler(stage1, frames, codes, key_frames(run, "train").keys, sg.batch_size, seed=cfg.train.seed)
    logs = fit_stage(run, "stackgan2", model, manager, sampler, None, sg.stage2_epochs, initial_epoch,
                     [HalveLearningRate(sg.learning_rate, sg.lr_decay_epochs), grid], watch=("d_loss", "g_loss"))
    save_image(grid.grid(), out / "samples.png")
    save_final(model, final)
    (out / "report.json").write_text(json.dumps({"final": logs}, indent=1))
    return StageResult("stackgan2", time.time() - start, logs)

"""Training the video GAN ("vgan") on real clips: their first frame, their caption's text code.

Outputs in the run directory:
    vgan/vgan.keras        the trained VideoGAN
    vgan/samples/          per epoch: a frame strip (rows = fixed val clips, columns = time) of the
                           generated video, mask and background, and an animated GIF per clip
    vgan/report.json       final losses
    logs/vgan/             TensorBoard scalars and the strips every epoch
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.data.records import caption_pool, make_examples, split_records
from keras_t2v.export import export_to_gif, frame_strip, save_image, to_uint8
from keras_t2v.models.stackgan_training import text_codes
from keras_t2v.models.vgan_model import VideoGAN
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, open_stage, restore_or_build, save_final

SAMPLE_CLIPS = 6


def code_lookup(captions: list[str], codes: np.ndarray):
    """A tf function mapping caption strings (B,) to their text codes (B, E).

    Clips can share a caption word for word; identical captions have identical codes, so the
    first row of each distinct caption is used.
    """
    unique, first = np.unique(np.asarray(captions), return_index=True)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(unique), tf.constant(first, tf.int64)), -1
    )
    codes = tf.constant(codes)
    return lambda text: tf.gather(codes, table.lookup(text))


def video_batches(run: Run, split: str, batch_size: int, codes: np.ndarray, captions: list[str], shuffle: bool, epochs=None):
    """Batches {"video", "embedding", "wrong_embedding"} of `split` (text codes looked up by caption)."""
    data = run.config.data
    records, _ = split_records(data, split)
    pool = caption_pool(data, split)
    examples = make_examples(records, pool, batch_size, seed=run.config.train.seed,
                             shuffle_buffer=data.shuffle_buffer if shuffle else 0, epochs=epochs, drop_remainder=True)
    lookup = code_lookup(captions, codes)
    return examples.map(lambda b: {"video": b["video"], "embedding": lookup(b["caption"]),
                                   "wrong_embedding": lookup(b["wrong_caption"]), "caption": b["caption"]})


class VideoSamples(keras.callbacks.Callback):
    """Fixed val clips every epoch: strips of video, mask and background (TensorBoard and PNG), GIFs."""

    def __init__(self, log_dir, out_dir, batch, fps=8):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.out_dir, self.batch, self.fps = out_dir, batch, fps

    def on_epoch_end(self, epoch, logs=None):
        b = self.batch
        z = np.random.default_rng(0).normal(size=(len(b["video"]), self.model.z_dim)).astype("float32")
        video, mask, background = (keras.ops.convert_to_numpy(t) for t in
                                   self.model.generate(b["video"][:, 0], b["embedding"], z))
        strips = {"video": frame_strip(video, 8), "mask": frame_strip(mask.repeat(3, -1) * 2 - 1, 8),
                  "real": frame_strip(b["video"], 8), "background": frame_strip(background[:, None], 1)}
        with self.writer.as_default():
            for name, strip in strips.items():
                tf.summary.image(name, strip[None], step=epoch)
        self.writer.flush()
        save_image(strips["video"], self.out_dir / f"epoch{epoch + 1:03d}_video.png")
        save_image(strips["mask"], self.out_dir / f"epoch{epoch + 1:03d}_mask.png")
        for i, clip in enumerate(to_uint8(video)):
            export_to_gif(clip, self.out_dir / f"epoch{epoch + 1:03d}_clip{i}.gif", fps=self.fps)


def train_vgan(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    cfg = run.config
    v = cfg.vgan
    out, manager, final, skip = open_stage(run, "vgan", "vgan.keras", resume, force)
    if skip:
        return StageResult("vgan", 0.0, {}, skipped=True)
    start = time.time()
    codes, captions = text_codes(run, "train")
    val_codes, val_captions = text_codes(run, "val")

    def build():
        model = VideoGAN(v.variant, z_dim=v.z_dim, gf_dim=v.gf_dim, df_dim=v.df_dim, image_size=cfg.data.image_size,
                         frames=cfg.data.num_frames, two_stream=v.two_stream,
                         text_dim=codes.shape[1] if v.variant == "text" else 0,
                         mask_l1=v.mask_l1, recon_l1=v.recon_l1, seed=cfg.train.seed)
        model.compile(d_optimizer=keras.optimizers.Adam(v.learning_rate, beta_1=v.beta1),
                      g_optimizer=keras.optimizers.Adam(v.learning_rate, beta_1=v.beta1), jit_compile=cfg.train.jit_compile)
        return model

    model, initial_epoch = restore_or_build(manager, resume, build)

    train = video_batches(run, "train", v.batch_size, codes, captions, shuffle=True)
    steps = v.steps_per_epoch or max(1, cfg.data.train_size // v.batch_size)
    sample = next(iter(video_batches(run, "val", SAMPLE_CLIPS, val_codes, val_captions, shuffle=False, epochs=1)))
    sample = {k: t.numpy() for k, t in sample.items()}
    samples = VideoSamples(run.log_dir("vgan") / "samples", out / "samples", sample)
    train = train.map(lambda b: {k: b[k] for k in ("video", "embedding", "wrong_embedding")})
    history_logs = fit_stage(run, "vgan", model, manager, train.take(steps * (v.epochs - initial_epoch)).repeat(), None,
                             v.epochs, initial_epoch, [samples], watch=("d_loss", "g_loss"), steps_per_epoch=steps)
    save_final(model, final)
    (out / "report.json").write_text(json.dumps({"final": history_logs, "sample_captions": [c.decode() for c in sample["caption"]]}, indent=1))
    return StageResult("vgan", time.time() - start, history_logs)

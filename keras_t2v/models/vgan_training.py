"""Training the video GAN ("vgan") on real clips: their first frame (or, for a configured share,
the StackGAN frame of their caption), their caption's text code.

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

from keras_t2v.config import ConfigError
from keras_t2v.data.records import caption_pool, caption_rows, is_shapes, make_examples, split_records
from keras_t2v.distribute import is_multiworker
from keras_t2v.evaluation import in_training
from keras_t2v.evaluation.motion import object_tracks
from keras_t2v.export import export_to_gif, frame_strip, save_image, to_uint8
from keras_t2v.models.stackgan_training import load_stage1, text_codes
from keras_t2v.models.vgan_model import VideoGAN
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, open_stage, restore_or_build, save_final

SAMPLE_CLIPS = 6


def frame_judge(run: Run) -> keras.Model:
    """frames (B, S, S, 3) -> logits (B, 14): Stage-I's frozen guide when it has one (stackgan.guide_weight),
    else its discriminator's attribute classifier as training left it."""
    stackgan = load_stage1(run, "vgan.frame_guide_weight")
    if stackgan.guide_weight:
        return stackgan.guide
    if not stackgan.attribute_weight:
        raise ConfigError("vgan.frame_guide_weight judges frames with Stage-I's attribute classifier: "
                          "train Stage-I with stackgan.attribute_weight > 0")
    return stackgan.attribute_classifier()


def stackgan_first_frames(run: Run, codes: np.ndarray, batch: int = 256) -> np.ndarray:
    """(N, S, S, 3) uint8: one StackGAN Stage-I frame per clip, from the code of its first caption
    (codes row 3i) and fixed noise: the kind of first frame the video stage gets at inference,
    with the conditioning augmentation's noise at stackgan.training_noise whatever stackgan.generation_noise says."""
    stackgan = load_stage1(run, "vgan.stackgan_first_frames", generation_noise=run.config.stackgan.training_noise)
    stackgan.generator.get_layer("ca").reseed(run.config.train.seed)
    rows = codes[0::3]
    z = np.random.default_rng([run.config.train.seed, 7]).normal(size=(len(rows), stackgan.z_dim)).astype("float32")
    return np.concatenate([to_uint8(keras.ops.convert_to_numpy(stackgan.generate(rows[i : i + batch], z[i : i + batch])))
                           for i in range(0, len(rows), batch)])


def video_batches(run: Run, split: str, batch_size: int, codes: np.ndarray, captions: list[str], shuffle: bool, epochs=None,
                  generated_frames: np.ndarray | None = None, generated_share: float = 0.0, shard: tuple[int, int] = (0, 1),
                  tracks: bool = False):
    """Batches {"video", "first_frame", "embedding", "wrong_embedding", "caption", "attributes"} of `split` (text
    codes looked up by caption). "first_frame" is the clip's own first frame or, for a
    `generated_share` of the examples, its frame in `generated_frames` (N, S, S, 3) uint8.
    `shard=(i, n)`: only the clips of input pipeline i of n (generated data, see `generate_records`).
    `tracks`: also "track" (B, T, 2), the object's displacement from frame 0 (`object_tracks`), and
    "track_weight" (B, T), 1 where it is seen in a clip conditioned on its own first frame."""
    data = run.config.data
    records, _ = split_records(data, split, shard=shard)
    pool = caption_pool(data, split)
    examples = make_examples(records, pool, batch_size, seed=run.config.train.seed,
                             shuffle_buffer=data.shuffle_buffer if shuffle else 0, epochs=epochs, drop_remainder=True)
    rows, codes = caption_rows(captions), tf.constant(codes)
    bank = None if generated_frames is None else tf.Variable(generated_frames, trainable=False, name="generated_first_frames")

    def to_batch(step, b):
        row = rows(b["caption"])
        first = b["video"][:, 0]
        use = tf.zeros([batch_size], tf.bool)
        if bank is not None:
            generated = tf.cast(tf.gather(bank, row // 3), tf.float32) / 127.5 - 1.0
            use = tf.random.stateless_uniform([batch_size], [run.config.train.seed, step]) < generated_share
            first = tf.where(use[:, None, None, None], generated, first)
        extra = {}
        if tracks:
            track, seen = object_tracks(b["video"])
            extra = {"track": track, "track_weight": seen * tf.cast(~use, tf.float32)[:, None]}
        return extra | {"video": b["video"], "first_frame": first, "embedding": tf.gather(codes, row),
                "wrong_embedding": tf.gather(codes, rows(b["wrong_caption"])), "caption": b["caption"], "attributes": b["attributes"]}

    return examples.enumerate().map(to_batch)


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
                                   self.model.generate(b["first_frame"], b["embedding"], z))
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
    out, manager, final, skip = open_stage(run, "vgan", "vgan.keras", resume, force, v.epochs, **in_training.checkpoint_monitor(run))
    if skip:
        return StageResult("vgan", 0.0, {}, skipped=True)
    if not 0.0 <= v.stackgan_first_frames <= 1.0:
        raise ConfigError(f"vgan.stackgan_first_frames is a share in [0, 1], got {v.stackgan_first_frames}")
    labelled = v.attribute_weight or v.frame_guide_weight
    if labelled and not is_shapes(cfg.data):
        raise ConfigError("vgan.attribute_weight and vgan.frame_guide_weight need attribute labels: "
                          "Captioned Moving Shapes data, not imported clips")
    start = time.time()
    codes, captions = text_codes(run, "train")
    val_codes, val_captions = text_codes(run, "val")

    def build():
        model = VideoGAN(v.variant, z_dim=v.z_dim, gf_dim=v.gf_dim, df_dim=v.df_dim, image_size=cfg.data.image_size,
                         frames=cfg.data.num_frames, two_stream=v.two_stream,
                         text_dim=codes.shape[1] if v.variant == "text" else 0,
                         mask_l1=v.mask_l1, recon_l1=v.recon_l1, ema_decay=v.ema_decay, attribute_weight=v.attribute_weight,
                         conditional_bn=v.conditional_bn, projection_d=v.projection_d, attribute_head=v.attribute_head,
                         frame_guide_weight=v.frame_guide_weight, frame_guide_frames=v.frame_guide_frames, upsample=v.upsample,
                         unet_skips=v.unet_skips, moving_skips=v.moving_skips, sprite=v.sprite,
                         sprite_path=v.sprite_path, sprite_source=v.sprite_source,
                         sprite_track_weight=v.sprite_track_weight, sprite_path_choices=v.sprite_path_choices,
                         sprite_track_only=v.sprite_track_only, seed=cfg.train.seed)
        return model.compile_adam(v.learning_rate, v.beta1, jit_compile=cfg.train.jit_compile)

    model, initial_epoch = restore_or_build(run, manager, resume, build)
    if v.frame_guide_weight:
        with run.strategy.scope():
            model.use_frame_guide(frame_judge(run))

    generated = stackgan_first_frames(run, codes) if v.stackgan_first_frames else None
    steps = v.steps_per_epoch or max(1, cfg.data.train_size // v.batch_size)

    def train_batches(batch_size=v.batch_size, shard=(0, 1)):
        batches = video_batches(run, "train", batch_size, codes, captions, shuffle=True,
                                generated_frames=generated, generated_share=v.stackgan_first_frames, shard=shard,
                                tracks=bool(v.sprite_track_weight))
        keys = ("video", "first_frame", "embedding", "wrong_embedding") + (("attributes",) if labelled else ()) + (
            ("track", "track_weight") if v.sprite_track_weight else ())
        batches = batches.map(lambda b: {k: b[k] for k in keys})
        return batches.take(steps * (v.epochs - initial_epoch)).repeat()

    if is_multiworker(run.strategy) and cfg.data.source == "generate":
        def train(context: tf.distribute.InputContext):  # each worker renders its own clips, a replica's share of the batch
            print(f"vgan: input pipeline {context.input_pipeline_id} of {context.num_input_pipelines} renders clips "
                  f"{context.input_pipeline_id}, {context.input_pipeline_id + context.num_input_pipelines}, ...", flush=True)
            return train_batches(context.get_per_replica_batch_size(v.batch_size), (context.input_pipeline_id, context.num_input_pipelines))
    else:
        train = train_batches()
    sample = next(iter(video_batches(run, "val", SAMPLE_CLIPS, val_codes, val_captions, shuffle=False, epochs=1)))
    sample = {k: t.numpy() for k, t in sample.items()}
    samples = VideoSamples(run.log_dir("vgan") / "samples", out / "samples", sample)
    evaluation = in_training.video_evaluation(run, model, val_codes, val_captions) if in_training.enabled(run) else None
    history_logs = fit_stage(run, "vgan", model, manager, train, None,
                             v.epochs, initial_epoch, [samples], watch=("d_loss", "g_loss"), steps_per_epoch=steps,
                             evaluation=evaluation)
    save_final(model, final)
    (out / "report.json").write_text(json.dumps({"final": history_logs, "sample_captions": [c.decode() for c in sample["caption"]]}, indent=1))
    return StageResult("vgan", time.time() - start, history_logs)

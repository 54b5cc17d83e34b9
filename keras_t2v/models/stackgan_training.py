"""Training StackGAN Stage-I ("stackgan") on first frames and the joint embedding's text codes.

Outputs in the run directory:
    stackgan/stackgan.keras     the trained StackGANStageI (generator + discriminator + optimizers)
    stackgan/samples.png        the fixed grid: val captions (rows) x noise seeds (columns), real frame first
    stackgan/report.json        final losses
    stackgan/d_pretrain.json    with stackgan.d_pretrain_epochs, D's pre-training: losses, val accuracy
    logs/stackgan/              TensorBoard scalars and the sample grid every epoch
    logs/stackgan/d_pretrain/   with stackgan.d_pretrain_epochs, the classifier loss per epoch
"""

from __future__ import annotations

import json
import time

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.config import ConfigError
from keras_t2v.data.attributes import ATTRIBUTE_NAMES, one_hot
from keras_t2v.data.records import caption_pool
from keras_t2v.evaluation import in_training
from keras_t2v.export import save_image, to_float, to_uint8
from keras_t2v.runs import Run
from keras_t2v.stages import StageResult, fit_stage, open_stage, restore_or_build, save_final
from keras_t2v.text.joint_training import key_frames
from keras_t2v.text.training import sentence_matrix
from keras_t2v.models.losses import attribute_cross_entropy
from keras_t2v.models.stackgan import set_generation_noise
from keras_t2v.models.stackgan_model import StackGANStageI

GRID_CAPTIONS, GRID_SEEDS = 8, 4


def load_stage1(run: Run, needed_by: str, generation_noise: float | None = None) -> StackGANStageI:
    """The run's trained Stage-I (safe mode), generating with `generation_noise` (default: the run's
    stackgan.generation_noise). The later stages train on frames drawn with the noise Stage-I trained
    with (stackgan.training_noise, 1.0 in StackGAN), not the generation noise: the video stage trained
    on mean-code frames of a Stage-I trained with the noise did worse (README, "Sprite"), and a Stage-I
    trained on the mean code draws noise, not the caption, from a code sampled in full (README,
    "Trained on the mean code")."""
    model = keras.models.load_model(run.stage_output("stackgan", "stackgan.keras", needed_by), safe_mode=True)
    set_generation_noise(model.generator, run.config.stackgan.generation_noise if generation_noise is None else generation_noise)
    return model


def text_codes(run: Run, split: str) -> tuple[np.ndarray, list[str]]:
    """(N * 3, E) text codes of every caption of `split` and the captions: from the joint stage's
    text encoder, or with joint.gan_code = "attributes" the one-hot code of the clip's attributes."""
    if run.config.joint.gan_code == "attributes":
        pool = caption_pool(run.config.data, split)
        if pool.attributes is None:
            raise ValueError('joint.gan_code="attributes" needs Captioned Moving Shapes; imported clips have no attributes')
        return np.repeat(one_hot(pool.attributes), 3, axis=0), pool.captions.reshape(-1).tolist()
    if run.config.joint.gan_code != "joint":
        raise ValueError(f'joint.gan_code must be "joint" or "attributes", got {run.config.joint.gan_code!r}')
    path = run.stage_output("joint", "text_encoder.keras", "the GAN stages")
    encoder = keras.models.load_model(path, safe_mode=True)
    sentences, captions = sentence_matrix(run, split)
    return np.asarray(encoder.predict(sentences, batch_size=512, verbose=0), np.float32), captions


class FrameTextSampler(keras.utils.PyDataset):
    """Batches {"image", "embedding", "wrong_image"}: a clip's first frame, the code of one of its
    captions, and the first frame of a clip with another key (attribute combination); with
    `attributes` (N, 5) also "attributes", the clip's."""

    def __init__(self, frames, codes, keys, batch_size, seed=0, attributes=None, **kwargs):
        super().__init__(**kwargs)
        self.frames, self.codes, self.batch_size, self.seed, self.attributes = frames, codes, batch_size, seed, attributes
        self.keys = np.asarray(keys)
        self.epoch = 0

    def __len__(self):
        return len(self.frames) // self.batch_size

    def on_epoch_end(self):
        self.epoch += 1

    def __getitem__(self, index):
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.frames))
        rng = np.random.default_rng([self.seed, self.epoch, index, 1])
        clips = order[index * self.batch_size : (index + 1) * self.batch_size]
        wrong = rng.integers(len(self.frames), size=len(clips))
        same = self.keys[wrong] == self.keys[clips]
        while same.any():
            wrong[same] = rng.integers(len(self.frames), size=int(same.sum()))
            same = self.keys[wrong] == self.keys[clips]
        rows = 3 * clips + rng.integers(3, size=len(clips))
        batch = {"image": to_float(self.frames[clips]), "embedding": self.codes[rows], "wrong_image": to_float(self.frames[wrong])}
        if self.attributes is not None:
            batch["attributes"] = self.attributes[clips].astype(np.int32)
        return batch


class HalveLearningRate(keras.callbacks.Callback):
    """lr = base * 0.5 ** (epoch // every) for both GAN optimizers (StackGAN's LR_DECAY_EPOCH)."""

    def __init__(self, base: float, every: int):
        super().__init__()
        self.base, self.every = base, max(1, every)

    def on_epoch_begin(self, epoch, logs=None):
        lr = self.base * 0.5 ** (epoch // self.every)
        for optimizer in (self.model.d_optimizer, self.model.g_optimizer):
            optimizer.learning_rate.assign(lr)


def sample_grid(model: StackGANStageI, codes: np.ndarray, real: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """uint8 grid: one row per caption code, the real frame then one generated frame per noise vector."""
    rows = []
    for code, frame in zip(codes, real):
        fakes = keras.ops.convert_to_numpy(model.generate(np.repeat(code[None], len(noise), 0), noise))
        rows.append(np.concatenate([frame, *fakes], axis=1))
    return to_uint8(np.concatenate(rows, axis=0))


class SampleGrid(keras.callbacks.Callback):
    """The same captions and noise every epoch, written to TensorBoard as an image."""

    def __init__(self, log_dir, codes, real, noise):
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.codes, self.real, self.noise = codes, real, noise

    def on_epoch_end(self, epoch, logs=None):
        grid = sample_grid(self.model, self.codes, self.real, self.noise)
        with self.writer.as_default():
            tf.summary.image("samples", grid[None], step=epoch)
        self.writer.flush()


def pretrain_discriminator(run: Run, model: StackGANStageI, train, val) -> dict:
    """stackgan.d_pretrain_epochs (a deviation): before the GAN, D's trunk and auxiliary head learn
    the frame attributes of real first frames as a plain classifier, so that from the first GAN
    step its attribute loss can tell G which shape it drew. Left to the GAN alone, D names a real
    frame's shape in 60 % after Stage-I (README "Shape is what the discriminators learn last").
    G and D's real/fake head are untouched; the classifier has its own Adam (stackgan.learning_rate,
    beta1). `train`, `val`: KeyFrames, frames (N, 3, S, S, 3) uint8 (the first is used) and attributes (N, 5).
    Returns {"loss": per epoch, "val_accuracy": {attribute: fraction of val first frames right}}."""
    sg = run.config.stackgan
    columns = list(model.attribute_columns)
    data = (tf.data.Dataset.from_tensor_slices((train.frames[:, 0], train.attributes[:, columns].astype(np.int32)))
            .shuffle(len(train.frames), seed=run.config.train.seed)
            .batch(sg.batch_size, drop_remainder=True)
            .map(lambda frames, attributes: (tf.cast(frames, tf.float32) / 127.5 - 1.0, attributes)))
    with run.strategy.scope():
        classifier = model.attribute_classifier()
        classifier.compile(keras.optimizers.Adam(sg.learning_rate, beta_1=sg.beta1),
                           loss=lambda y, logits: attribute_cross_entropy(logits, tf.cast(y, tf.int32), model.attribute_sizes))
    history = classifier.fit(data, epochs=sg.d_pretrain_epochs, shuffle=False, verbose=2,
                             callbacks=[keras.callbacks.TensorBoard(str(run.log_dir("stackgan") / "d_pretrain"), write_graph=False)])
    logits = classifier.predict(to_float(val.frames[:, 0]), batch_size=256, verbose=0)
    starts = np.cumsum([0, *model.attribute_sizes])
    right = {ATTRIBUTE_NAMES[column]: float(np.mean(logits[:, starts[k] : starts[k + 1]].argmax(1) == val.attributes[:, column]))
             for k, column in enumerate(columns)}
    return {"loss": [float(v) for v in history.history["loss"]], "val_accuracy": right}


def train_stackgan(run: Run, resume: bool = False, force: bool = False) -> StageResult:
    cfg = run.config
    sg = cfg.stackgan
    if sg.d_pretrain_epochs and not sg.attribute_weight:
        raise ConfigError("stackgan.d_pretrain_epochs trains D's attribute head: set stackgan.attribute_weight > 0")
    if sg.guide_weight and not sg.d_pretrain_epochs:
        raise ConfigError("stackgan.guide_weight copies D after its pre-training as a classifier: set stackgan.d_pretrain_epochs > 0")
    if sg.classify_fakes and not sg.attribute_weight:
        raise ConfigError("stackgan.classify_fakes trains D's attribute head on fakes: set stackgan.attribute_weight > 0")
    if sg.motion_head and not sg.attribute_weight:
        raise ConfigError("stackgan.motion_head adds the motion to D's attribute head: set stackgan.attribute_weight > 0")
    if sg.mode_seeking_weight and sg.variant != "tf":
        raise ConfigError("stackgan.mode_seeking_weight compares G's fakes with the D step's from another z: set stackgan.variant = \"tf\"")
    out, manager, final, skip = open_stage(run, "stackgan", "stackgan.keras", resume, force, sg.epochs, **in_training.checkpoint_monitor(run))
    if skip:
        return StageResult("stackgan", 0.0, {}, skipped=True)
    start = time.time()
    codes, _ = text_codes(run, "train")
    val_codes, val_captions = text_codes(run, "val")
    train = key_frames(run, "train")
    val = key_frames(run, "val")
    first_frames = np.ascontiguousarray(train.frames[:, 0])
    if sg.attribute_weight and train.attributes is None:
        raise ConfigError("stackgan.attribute_weight needs attribute labels: Captioned Moving Shapes data, not imported clips")

    def build():
        model = StackGANStageI(embed_dim=codes.shape[1], c_dim=sg.c_dim, z_dim=sg.z_dim, gf_dim=sg.gf_dim, df_dim=sg.df_dim,
                               image_size=cfg.data.image_size, variant=sg.variant, kl_coeff=sg.kl_coeff,
                               attribute_weight=sg.attribute_weight, classify_fakes=sg.classify_fakes, guide_weight=sg.guide_weight,
                               conditional_bn=sg.conditional_bn, projection_d=sg.projection_d, motion_head=sg.motion_head,
                               mode_seeking_weight=sg.mode_seeking_weight, generation_noise=sg.generation_noise,
                               training_noise=sg.training_noise, seed=cfg.train.seed)
        return model.compile_adam(sg.learning_rate, sg.beta1, jit_compile=cfg.train.jit_compile)

    model, initial_epoch = restore_or_build(run, manager, resume, build)
    if sg.d_pretrain_epochs and initial_epoch == 0:
        d_pretrain = pretrain_discriminator(run, model, train, val)
        (out / "d_pretrain.json").write_text(json.dumps(d_pretrain, indent=1))
        if sg.guide_weight:
            model.freeze_guide()
        print(f"[stackgan] D pre-trained as a classifier; val accuracy {d_pretrain['val_accuracy']}", flush=True)

    shown = np.arange(min(GRID_CAPTIONS, len(val.frames)))
    noise = np.random.default_rng(0).normal(size=(GRID_SEEDS, sg.z_dim)).astype("float32")
    grid = SampleGrid(run.log_dir("stackgan") / "samples", val_codes[3 * shown], to_float(val.frames[shown, 0]), noise)
    sampler = FrameTextSampler(first_frames, codes, train.keys, sg.batch_size, seed=cfg.train.seed,
                               attributes=train.attributes if sg.attribute_weight else None)
    evaluation = None
    if in_training.enabled(run):
        evaluation = in_training.frame_evaluation(run, model, val_codes, caption_pool(cfg.data, "val").attributes)
    logs = fit_stage(run, "stackgan", model, manager, sampler, None, sg.epochs, initial_epoch,
                     [HalveLearningRate(sg.learning_rate, sg.lr_decay_epochs), grid], watch=("d_loss", "g_loss"),
                     evaluation=evaluation)
    save_image(sample_grid(model, grid.codes, grid.real, grid.noise), out / "samples.png")
    save_final(model, final)
    (out / "report.json").write_text(json.dumps({"final": logs, "grid_captions": [val_captions[3 * i] for i in shown]}, indent=1))
    return StageResult("stackgan", time.time() - start, logs)

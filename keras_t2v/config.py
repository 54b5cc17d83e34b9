"""Configuration: one dataclass per stage, presets, YAML load/save and `--set` overrides.

Presets:
- `tiny`: seconds per stage on 2 CPU cores; what the tests use.
- `baseline`: the original output format (32 frames of 64x64) with narrower networks, for a laptop
  CPU, and the original recipe in every GAN stage: nothing learns from the attribute labels, so it
  also trains on imported clips.
- `quick`: the default of `python -m keras_t2v.train`; baseline with the text tower and Stage-I
  levers that make Stage-I draw the caption (they learn from Captioned Moving Shapes' labels).
- `fixes`: quick with the text-conditioned video GAN and the levers that made it show the caption;
  the model shipped in keras_t2v/pretrained.
- `paper`: the reference widths and hyper-parameters of shared/specs/reference_architectures.md
  (section numbers in the comments), for a GPU.

Every deviation from the reference is a named field here, so a run's config.yaml says exactly
what was trained. There is no global config: code receives the dataclass it needs.
"""

from __future__ import annotations

import dataclasses
import difflib
import typing
from pathlib import Path

import yaml


@dataclasses.dataclass
class DataConfig:
    """The training data: Captioned Moving Shapes (shared/specs/dataset.md) or imported shards."""

    source: str = "generate"  # "generate": render clips on the fly; "shards": read TFRecords at `path`
    path: str = ""  # dataset directory written by data_prep (holds manifest.json)
    seed: int = 0  # dataset seed: video k of split s is a pure function of (seed, s, k)
    image_size: int = 64  # S: frames are S x S
    num_frames: int = 32  # T
    train_size: int = 8192
    val_size: int = 512
    test_size: int = 512
    test_unseen_size: int = 512
    shard_size: int = 128  # videos per TFRecord shard
    shuffle_buffer: int = 1024


@dataclasses.dataclass
class WordVectorConfig:
    """fastText word vectors via gensim (section 3.4) and the 25 x 300 sentence layout."""

    vectors_path: str = ""  # .bin (Facebook, with subwords) or .vec; empty: train FastText on captions
    vec_limit: int = 0  # keep only the N most frequent words of a .vec file (0: all)
    vector_size: int = 300
    max_words: int = 25  # sentence = max_words x vector_size, zero padded on the right
    sg: int = 1  # 1 skip-gram (as Facebook's wiki vectors), 0 CBOW
    window: int = 5
    epochs: int = 20
    min_count: int = 1
    min_n: int = 3  # character n-gram range
    max_n: int = 6
    bucket: int = 20000  # n-gram hash buckets (fastText's 2M would be 2.4 GB at 300-d; captions need few)
    action_word_weight: float = 1.0  # scale of motion-word vectors; 1.0 = faithful (off)


@dataclasses.dataclass
class VAEConfig:
    """Sentence VAE on the 7500-d vector (section 3)."""

    intermediate_dim: int = 1200
    latent_dim: int = 500  # the Siamese text tower of the original takes 500-d input (3.3)
    output: str = "linear_mse"  # "linear_mse" (sound for real-valued vectors) or "sigmoid_bce" (faithful)
    kl_weight: float = 1.0  # 1.0 = the 2017 Keras example; < 1 keeps more information in the code
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-3
    batch_size: int = 100
    epochs: int = 50


@dataclasses.dataclass
class JointConfig:
    """Siamese text/frame joint embedding with contrastive loss (section 4)."""

    hidden_dim: int = 500
    embed_dim: int = 512
    dropout: float = 0.5
    activation: str = "relu"  # of both towers' output (faithful); "linear" avoids dead, collapsed codes
    finetune_vae: bool = False  # train the VAE encoder inside the text tower (the original froze it)
    text_input: str = "vae"  # the text tower reads "vae" (the VAE code, faithful), "words" (the sentence vector)
    # or "words_conv" (convolutions over its word slots and a max over them, a deviation)
    loss: str = "contrastive"  # "contrastive" (sampled pairs, margin; faithful) or "infonce" (in-batch negatives)
    frame_tower: str = "xception"  # "xception" (paper), "cnn" (small, quick/tiny) or "cnn_pool" (conv + BN, global max pool)
    cnn_filters: int = 32
    clip_frames: int = 1  # > 1 (a deviation): the frame tower reads that many frames evenly spaced over the clip,
    # stacked on channels, so the text code must keep the motion to match (the original read one key frame)
    xception_weights: str = ""  # a weights file the user provides; nothing is downloaded
    margin: float = 1.0
    optimizer: str = "rmsprop"
    learning_rate: float = 1e-5
    positives: int = 3  # per caption: first, last and one more frame of its clip
    negatives: int = 3  # per caption: frames of other clips
    hard_negatives: bool = False  # negatives differ from the caption in exactly one attribute
    batch_size: int = 30
    epochs: int = 250
    attribute_weight: float = 0.0  # > 0 (shapes data, infonce; deviation): the text code also predicts the caption's attributes
    gan_code: str = "joint"  # what the GANs are conditioned on: "joint" (the text encoder's code) or
    # "attributes" (a one-hot code of the caption's parsed attributes: the text side's upper bound, shapes only)


@dataclasses.dataclass
class StackGANConfig:
    """StackGAN Stage-I (and optional Stage-II) (section 1)."""

    variant: str = "tf"  # "tf" original or "pytorch" port (table 1.10)
    c_dim: int = 128
    z_dim: int = 100
    gf_dim: int = 128  # Stage-I G starts at gf_dim * 8 channels
    df_dim: int = 64
    r_num: int = 4  # Stage-II residual blocks
    kl_coeff: float = 2.0
    generation_noise: float = 1.0  # scale of CA's noise when generating (not training, nor the frames Stage-II and VGAN train on): 1.0 samples as StackGAN, 0.0 the mean code (deviation)
    generation_z_scale: float = 1.0  # scale of z when generating (pipeline, Stage-I report): 1.0 samples as StackGAN; > 1 spreads where the object is drawn (deviation)
    training_noise: float = 1.0  # scale of CA's noise when training Stage-I and drawing the frames Stage-II and VGAN train on: 1.0 as StackGAN, 0.0 the mean code (deviation)
    attribute_weight: float = 0.0  # > 0 (shapes data): Stage-I D's auxiliary attribute classifier (TAC-GAN) and its loss weight
    classify_fakes: bool = False  # D's attribute head also learns fakes as their captions' attributes (AC-GAN's form)
    guide_weight: float = 0.0  # > 0 (needs d_pretrain_epochs): G also answers to a frozen copy of the pre-trained classifier (deviation)
    d_pretrain_epochs: int = 0  # > 0 (needs attribute_weight): D's trunk and attribute head first learn real frames' attributes alone (deviation)
    conditional_bn: bool = False  # Stage-I G: every BatchNorm takes scale and offset from the CA code (deviation)
    projection_d: bool = False  # Stage-I D: projection head (Miyato & Koyama 2018) instead of concat + conv (deviation)
    motion_head: bool = False  # D's attribute head (and guide) also name the motion, which sets where a clip's object starts (deviation)
    mode_seeking_weight: float = 0.0  # > 0 (variant tf): G also pays w / (mean|G(t,z)-G(t,z')| / mean|z-z'|), MSGAN's mode-seeking term (deviation)
    learning_rate: float = 2e-4
    beta1: float = 0.5
    lr_decay_epochs: int = 50  # halve the learning rate every N epochs (TF Stage-I cfg)
    batch_size: int = 64
    epochs: int = 600
    stage2: bool = False
    stage2_epochs: int = 600


@dataclasses.dataclass
class VGANConfig:
    """Two-stream video GAN (section 2), image-conditioned or text-conditioned."""

    variant: str = "image"  # "image" (faithful conditional VGAN), "text" (proposed fix) or "unconditional"
    z_dim: int = 100
    gf_dim: int = 64  # width of the last generator block; others are multiples (64..512, 2.2)
    df_dim: int = 64  # first discriminator width (doubled to 128 in the conditional model, 2.5)
    two_stream: bool = True
    mask_l1: float = 0.0  # weight of mean(mask); the reference uses 0.1 only in the unconditional model (2.4)
    recon_l1: float = 10.0  # weight of the first-frame L1 (conditional model, 2.5)
    ema_decay: float = 0.0  # > 0: keep an exponential moving average of G's weights for sampling and evaluation
    stackgan_first_frames: float = 0.0  # share of training examples conditioned on a StackGAN frame of their caption
    attribute_weight: float = 0.0  # > 0 (text variant, shapes data): D's auxiliary attribute classifier (TAC-GAN) and its loss weight
    conditional_bn: bool = False  # text variant: G's BatchNorms take scale and offset from the text code (deviation)
    projection_d: bool = False  # text variant: D matches text by projection (Miyato & Koyama 2018), not concat (deviation)
    attribute_head: str = "pool"  # D's auxiliary classifier reads the mean of its last features ("pool") or all of them
    # ("flatten", a deviation: keeps where the object is at each time, what motion is)
    frame_guide_weight: float = 0.0  # > 0 (text variant, shapes data): G also answers to Stage-I's frozen frame classifier (deviation)
    frame_guide_frames: int = 4  # how many evenly spaced frames of each fake video that judge sees
    upsample: str = "transposed"  # G's upsampling: "transposed" 4x4 stride-2 (original) or "nearest" + 3x3 conv (deviation)
    unet_skips: bool = False  # conditional variants: G's decoder also reads the first frame's encoder maps (U-Net, deviation)
    moving_skips: bool = False  # text variant with unet_skips: the foreground's skips move by a shift per frame G reads from the text (deviation)
    sprite: bool = False  # text variant: G draws the foreground once in 2D and moves it by a shift per frame read from the text (deviation)
    sprite_path: int = 0  # with sprite: 0, a free shift per frame; K > 0, a smooth path of K cosines over the clip (deviation)
    sprite_source: str = "drawn"  # with sprite: its colour "drawn" by G, or the first "frame"'s own pixels (deviation)
    sprite_track_weight: float = 0.0  # > 0 (with sprite): G's shift also regresses onto the real object's centroid track (deviation)
    sprite_path_choices: int = 1  # H > 1 (with sprite_path): H paths and their odds, z draws one; the track trains the closest, the odds which (deviation)
    sprite_track_only: bool = False  # with sprite_track_weight: the track alone trains the path, the video's losses do not (deviation)
    learning_rate: float = 2e-4
    beta1: float = 0.5
    batch_size: int = 32
    epochs: int = 100
    steps_per_epoch: int = 0  # 0: one pass over the train split per epoch


@dataclasses.dataclass
class TrainConfig:
    """What is not a model hyper-parameter: seed, devices, checkpoints."""

    seed: int = 0
    strategy: str = "default"  # "default", "mirrored" or "multiworker"
    jit_compile: bool = False  # XLA (a test checks a VGAN step gives the same losses); off by default: slower to start on CPU
    precision: str = "float32"  # "mixed_bfloat16": bfloat16 compute, float32 weights and losses; "auto": see keras_t2v/precision.py
    checkpoint_every: int = 1  # epochs
    keep_checkpoints: int = 3
    eval_every: int = 0  # epochs; > 0: GAN stages score eval_n val samples with the evaluator, keep the best checkpoint
    eval_n: int = 64
    evaluator_dir: str = ""  # the evaluator classifiers; empty: shared per data configuration (evaluate.default_evaluator_dir)


@dataclasses.dataclass
class Config:
    preset: str = "quick"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    words: WordVectorConfig = dataclasses.field(default_factory=WordVectorConfig)
    vae: VAEConfig = dataclasses.field(default_factory=VAEConfig)
    joint: JointConfig = dataclasses.field(default_factory=JointConfig)
    stackgan: StackGANConfig = dataclasses.field(default_factory=StackGANConfig)
    vgan: VGANConfig = dataclasses.field(default_factory=VGANConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)


# Fields that differ from the dataclass defaults (which are the baseline preset's values where a
# preset has no opinion). `paper` follows the reference; `tiny` is for tests.
PRESETS: dict[str, dict[str, typing.Any]] = {
    "paper": {
        "data.train_size": 16384,
        "vae.intermediate_dim": 1200,
        "joint.frame_tower": "xception",
        "stackgan.gf_dim": 128,
        "stackgan.df_dim": 64,
        "vgan.gf_dim": 64,
        "vgan.df_dim": 64,
    },
    "baseline": {
        "vae.intermediate_dim": 512,
        "vae.latent_dim": 128,
        "vae.epochs": 10,
        "vae.batch_size": 64,
        "joint.hidden_dim": 256,
        "joint.embed_dim": 128,
        # Deviations measured in README "Joint embedding": the faithful ReLU towers on frozen VAE
        # codes collapse to one point on this data; linear outputs and a fine-tuned encoder do not.
        # The VAE code keeps little more than the background, and 3 sampled negatives teach little:
        # the text tower reads the sentence vector and the loss uses every clip of the batch.
        "joint.activation": "linear",
        "joint.finetune_vae": True,
        "joint.dropout": 0.1,
        "joint.optimizer": "adam",
        "joint.learning_rate": 2e-4,
        "joint.frame_tower": "cnn_pool",
        "joint.text_input": "words",
        "joint.loss": "infonce",
        "joint.epochs": 20,
        "stackgan.gf_dim": 32,
        "stackgan.df_dim": 32,
        "stackgan.batch_size": 32,
        "stackgan.epochs": 10,
        "stackgan.lr_decay_epochs": 5,
        "vgan.gf_dim": 16,
        "vgan.df_dim": 16,
        "vgan.batch_size": 16,
        "vgan.epochs": 5,
        "vgan.steps_per_epoch": 200,
        "train.eval_every": 1,  # the GAN stages score each epoch with the evaluator (best.keras kept beside)
        "words.vector_size": 300,
    },
}
# The text code and Stage-I of `fixes`: a text tower that reads the word slots with a sentence CNN and
# names the attributes, a frame tower that reads 8 frames; Stage-I with conditional BN, a projection
# D, an auxiliary attribute classifier that also names the motion, a weak KL, D pre-trained and kept
# as a frozen guide, trained on and generating from the mean code, its learning rate halved after 12
# epochs. These levers need the attribute labels: for imported clips use `baseline`. bfloat16
# compute where the hardware has it (`train.precision = "auto"`; README "Precision").
TEXT_AND_STAGE1_LEVERS: dict[str, typing.Any] = {
    "joint.clip_frames": 8,
    "joint.attribute_weight": 1.0,
    "joint.text_input": "words_conv",
    "stackgan.kl_coeff": 0.02,
    "stackgan.attribute_weight": 1.0,
    "stackgan.conditional_bn": True,
    "stackgan.projection_d": True,
    "stackgan.lr_decay_epochs": 12,
    "stackgan.d_pretrain_epochs": 6,
    "stackgan.guide_weight": 1.0,
    "stackgan.motion_head": True,
    "stackgan.generation_noise": 0.0,
    "stackgan.training_noise": 0.0,
    "train.precision": "auto",
}
# baseline with those levers for 14 Stage-I epochs (README "Stage-I in the quick preset"). The video
# GAN is the original image-conditioned one. The VAE, whose code no later stage reads here, trains 3
# epochs instead of 10, to finish within issue 11's 60 minutes on a 2-core CPU.
PRESETS["quick"] = {
    **PRESETS["baseline"],
    **TEXT_AND_STAGE1_LEVERS,
    "stackgan.epochs": 14,
    "vae.epochs": 3,
}
# baseline with quick's text code and Stage-I levers, the text-conditioned video GAN and every lever that,
# measured one by one, moved the caption into the video (README "Both fixes together"): a frame
# tower that sees motion and a text code that names the caption's attributes; Stage-I's conditional
# BN + projection D + auxiliary classifier + weak KL, D pre-trained and kept as a frozen guide, for
# 24 epochs (README "Both together"); the same in the video GAN with a flattened attribute head,
# EMA, and StackGAN first frames; Stage-I's guide on the video's frames with nearest upsampling in the video generator
# (README "A frozen frame judge", "Nearest upsampling"); U-Net skips from its frame encoder (README
# "U-Net skips"); a 2D sprite moved along one of two paths that the real object's track teaches,
# its colour the first frame's, Stage-I generating from the mean code, and Stage-I's guide naming
# the motion so the first frame puts the object where the motion starts (README "Sprite", "Why
# 'down' is short"); Stage-I trained on the mean code and 26 video epochs (README "Trained on the
# mean code"); a text tower that reads the word slots with a sentence CNN (README "A text tower that
# reads a word wherever it stands"); bfloat16 compute where the hardware has it (quick's
# `train.precision = "auto"`), which on a CPU with AVX512_BF16/AMX trains Stage-I 1.5x and the
# video GAN 1.3x faster than float32 (README "The one command, repeated, seeded, then in
# bfloat16"). 112 minutes on a 2-core Xeon. The model shipped in
# keras_t2v/pretrained was trained with it (its word vectors compacted, see compact_fasttext).
PRESETS["fixes"] = {
    **PRESETS["baseline"],
    **TEXT_AND_STAGE1_LEVERS,
    "stackgan.epochs": 24,
    "vgan.variant": "text",
    "vgan.ema_decay": 0.99,
    "vgan.stackgan_first_frames": 0.5,
    "vgan.attribute_weight": 1.0,
    "vgan.conditional_bn": True,
    "vgan.projection_d": True,
    "vgan.attribute_head": "flatten",
    "vgan.frame_guide_weight": 1.0,
    "vgan.upsample": "nearest",
    "vgan.unet_skips": True,
    "vgan.epochs": 26,
    "vgan.sprite": True,
    "vgan.sprite_path": 6,
    "vgan.sprite_path_choices": 2,
    "vgan.sprite_track_weight": 2.0,
    "vgan.sprite_source": "frame",
    "vgan.mask_l1": 0.5,
}
PRESETS |= {
    "tiny": {
        "data.image_size": 16,
        "data.num_frames": 8,
        "data.train_size": 64,
        "data.val_size": 16,
        "data.test_size": 16,
        "data.test_unseen_size": 16,
        "data.shard_size": 16,
        "data.shuffle_buffer": 64,
        "words.vector_size": 16,
        "words.max_words": 25,
        "words.epochs": 5,
        "vae.intermediate_dim": 32,
        "vae.latent_dim": 8,
        "vae.epochs": 2,
        "vae.batch_size": 16,
        "joint.hidden_dim": 16,
        "joint.embed_dim": 16,
        "joint.frame_tower": "cnn",
        "joint.text_input": "words",
        "joint.loss": "infonce",
        "joint.cnn_filters": 4,
        "joint.activation": "linear",
        "joint.finetune_vae": True,
        "joint.dropout": 0.1,
        "joint.optimizer": "adam",
        "joint.learning_rate": 1e-3,
        "joint.epochs": 1,
        "stackgan.c_dim": 8,
        "stackgan.z_dim": 8,
        "stackgan.gf_dim": 4,
        "stackgan.df_dim": 4,
        "stackgan.r_num": 1,
        "stackgan.batch_size": 8,
        "stackgan.epochs": 1,
        "stackgan.stage2_epochs": 1,
        "vgan.z_dim": 8,
        "vgan.gf_dim": 4,
        "vgan.df_dim": 4,
        "vgan.batch_size": 4,
        "vgan.epochs": 1,
    },
}


class ConfigError(ValueError):
    """An unknown key, a value of the wrong type or an unknown preset."""


# Settings that learn from Captioned Moving Shapes' attribute labels when set (imported clips have none).
LABELLED_SETTINGS = ("joint.attribute_weight", "joint.hard_negatives", "stackgan.attribute_weight",
                     "stackgan.d_pretrain_epochs", "stackgan.guide_weight", "stackgan.motion_head",
                     "vgan.attribute_weight", "vgan.frame_guide_weight")


def labelled_settings(config: Config) -> list[str]:
    """The settings of `config` that need attribute labels: those of LABELLED_SETTINGS that are set,
    and `joint.gan_code=attributes`."""
    flat = flatten(config)
    return ([f"{key}={flat[key]}" for key in LABELLED_SETTINGS if flat[key]]
            + (["joint.gan_code=attributes"] if config.joint.gan_code == "attributes" else []))


def get_preset(name: str) -> Config:
    """The resolved config of preset `name` ("tiny", "baseline", "quick", "fixes" or "paper")."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {sorted(PRESETS)}")
    config = Config(preset=name)
    for key, value in PRESETS[name].items():
        _set(config, key, value)
    return config


def _field_types(obj) -> dict[str, typing.Any]:
    return typing.get_type_hints(type(obj))


def _check_type(key: str, value, expected):
    """Returns `value` converted to `expected` (int -> float allowed), or raises ConfigError."""
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is float and isinstance(value, str):  # YAML 1.1 reads "1e-3" as a string
        try:
            return float(value)
        except ValueError:
            pass
    if expected in (int, float) and isinstance(value, bool):
        raise ConfigError(f"{key}: expected {expected.__name__}, got {value!r}")
    if isinstance(expected, type) and not dataclasses.is_dataclass(expected):
        if not isinstance(value, expected):
            raise ConfigError(
                f"{key}: expected {expected.__name__}, got {type(value).__name__} {value!r}"
            )
    return value


def _unknown(key: str, name: str, options) -> ConfigError:
    close = difflib.get_close_matches(name, list(options), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ConfigError(f"unknown config key {key!r}{hint}; known here: {', '.join(options)}")


def _set(config: Config, key: str, value) -> None:
    *parents, name = key.split(".")
    target = config
    for i, part in enumerate(parents):
        types_here = _field_types(target)
        if part not in types_here or not dataclasses.is_dataclass(types_here[part]):
            raise _unknown(".".join(parents[: i + 1]), part, [k for k, t in types_here.items() if dataclasses.is_dataclass(t)])
        target = getattr(target, part)
    types_here = _field_types(target)
    if name not in types_here or dataclasses.is_dataclass(types_here[name]):
        raise _unknown(key, name, [k for k, t in types_here.items() if not dataclasses.is_dataclass(t)])
    setattr(target, name, _check_type(key, value, types_here[name]))


def apply_overrides(config: Config, overrides: typing.Iterable[str]) -> Config:
    """Applies `a.b=c` strings in place (values parsed as YAML scalars) and returns `config`."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"override {item!r} is not of the form section.key=value")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError as err:
            raise ConfigError(f"override {item!r}: cannot parse value: {err}") from None
        if isinstance(value, (dict, list)):
            raise ConfigError(f"override {item!r}: expected a single value, got {text!r}")
        _set(config, key.strip(), "" if value is None else value)
    return config


def to_dict(config: Config) -> dict:
    return dataclasses.asdict(config)


def flatten(config: Config) -> dict:
    """{"section.key": value} of every field, plus the top-level "preset"."""
    out = {}
    for section, fields in to_dict(config).items():
        if isinstance(fields, dict):
            out.update({f"{section}.{key}": value for key, value in fields.items()})
        else:
            out[section] = fields
    return out


def nearest_preset(config: Config) -> tuple[str, dict]:
    """The preset `config` differs least from and the keys that differ (section.key -> value). A run
    trained from one preset with --set flags is named by the preset it equals, if any (a preset's
    train.precision "auto" resolved as Run.open resolves it on this machine)."""
    from keras_t2v.precision import with_resolved_precision

    mine = {k: v for k, v in flatten(config).items() if k != "preset"}
    diffs = {}
    for name in PRESETS:
        preset = flatten(with_resolved_precision(get_preset(name)))
        diffs[name] = {k: v for k, v in mine.items() if preset[k] != v}
    name = min(diffs, key=lambda n: (len(diffs[n]), n != config.preset))
    return name, diffs[name]


def from_dict(data: dict, source: str = "config") -> Config:
    """Builds a Config from nested dicts: the preset named in `data` first, then every key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    config = get_preset(data.get("preset", "quick"))

    def walk(prefix: str, mapping: dict):
        for k, v in mapping.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                walk(key + ".", v)
            elif key != "preset":
                _set(config, key, v)

    try:
        walk("", data)
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
    return config


def load_config(path: str | Path) -> Config:
    """Reads a YAML config (full or partial; missing keys come from its preset)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(f"{path}: cannot read config: {err}") from None
    return from_dict(data, source=str(path))


def save_config(config: Config, path: str | Path) -> None:
    """Writes the resolved config as YAML, atomically (write to a temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(to_dict(config), sort_keys=False))
    tmp.replace(path)


def resolve_config(preset: str | None = None, config_path: str | None = None, overrides=(), seed: int | None = None) -> Config:
    """The config a command line asks for: a preset or a YAML file, then `--set`, then `--seed`."""
    if config_path:
        config = load_config(config_path)
        if preset and preset != config.preset:
            raise ConfigError(f"--preset {preset} conflicts with preset {config.preset!r} in {config_path}")
    else:
        config = get_preset(preset or "quick")
    apply_overrides(config, overrides)
    if seed is not None:
        config.train.seed = seed  # the dataset seed (data.seed) stays: it fixes the evaluation protocol
    return config

import dataclasses

import pytest
import yaml

from keras_t2v.config import (
    PRESETS,
    Config,
    ConfigError,
    apply_overrides,
    flatten,
    get_preset,
    labelled_settings,
    load_config,
    resolve_config,
    save_config,
)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_resolve_and_round_trip_through_yaml(name, tmp_path):
    config = get_preset(name)
    assert config.preset == name
    save_config(config, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == config


def test_presets_differ_where_they_should():
    tiny, quick, paper = get_preset("tiny"), get_preset("quick"), get_preset("paper")
    assert (quick.data.image_size, quick.data.num_frames) == (64, 32)  # the original output format
    assert (tiny.data.image_size, tiny.data.num_frames) == (16, 8)
    # paper follows shared/specs/reference_architectures.md
    assert (paper.words.vector_size, paper.words.max_words) == (300, 25)
    assert paper.vae.latent_dim == 500 and paper.joint.embed_dim == 512 and paper.joint.frame_tower == "xception"
    assert (paper.stackgan.c_dim, paper.stackgan.z_dim, paper.stackgan.gf_dim, paper.stackgan.df_dim) == (128, 100, 128, 64)
    assert paper.stackgan.kl_coeff == 2.0 and paper.stackgan.learning_rate == 2e-4 and paper.stackgan.beta1 == 0.5
    assert (paper.vgan.z_dim, paper.vgan.recon_l1) == (100, 10.0)
    assert paper.vgan.mask_l1 == 0.0  # the conditional reference has no mask penalty (0.1 is unconditional-only)


def changes(base: str, preset: str) -> dict:
    """{"section.key": value} where preset `preset` differs from preset `base`."""
    before, after = flatten(get_preset(base)), flatten(get_preset(preset))
    return {key: value for key, value in after.items() if key != "preset" and before[key] != value}


def test_quick_is_baseline_plus_the_text_and_stage1_levers():
    """`quick` is `runs/quick` of the README: baseline and exactly these changes, all before the video stage."""
    assert changes("baseline", "quick") == {
        "joint.clip_frames": 8, "joint.attribute_weight": 1.0, "joint.text_input": "words_conv",
        "stackgan.kl_coeff": 0.02, "stackgan.attribute_weight": 1.0, "stackgan.conditional_bn": True,
        "stackgan.projection_d": True, "stackgan.epochs": 14, "stackgan.lr_decay_epochs": 12,
        "stackgan.d_pretrain_epochs": 6, "stackgan.guide_weight": 1.0, "stackgan.motion_head": True,
        "stackgan.generation_noise": 0.0, "stackgan.training_noise": 0.0, "train.precision": "auto",
        "vae.epochs": 3,  # issue 11's 60 minutes; no later stage reads the VAE here
    }
    assert get_preset("quick").vgan == get_preset("baseline").vgan  # the original image-conditioned video GAN


def test_fixes_is_quick_plus_the_measured_levers():
    """The `fixes` preset is `runs/kk` of the README (the shipped model): quick without its time cuts
    and exactly these changes."""
    assert changes("quick", "fixes") == {
        "stackgan.epochs": 24, "vae.epochs": 10,
        "vgan.variant": "text", "vgan.ema_decay": 0.99, "vgan.stackgan_first_frames": 0.5,
        "vgan.attribute_weight": 1.0, "vgan.conditional_bn": True, "vgan.projection_d": True,
        "vgan.attribute_head": "flatten", "vgan.frame_guide_weight": 1.0, "vgan.upsample": "nearest",
        "vgan.unet_skips": True, "vgan.epochs": 26,
        "vgan.sprite": True, "vgan.sprite_path": 6, "vgan.sprite_path_choices": 2, "vgan.sprite_track_weight": 2.0,
        "vgan.sprite_source": "frame", "vgan.mask_l1": 0.5,
    }


def test_baseline_learns_nothing_from_attribute_labels():
    """Imported clips have no attributes: baseline is the preset that trains on them."""
    assert labelled_settings(get_preset("baseline")) == labelled_settings(get_preset("tiny")) == []
    assert labelled_settings(get_preset("quick")) == [
        "joint.attribute_weight=1.0", "stackgan.attribute_weight=1.0", "stackgan.d_pretrain_epochs=6",
        "stackgan.guide_weight=1.0", "stackgan.motion_head=True"]
    assert labelled_settings(apply_overrides(get_preset("baseline"), ["joint.gan_code=attributes"])) == ["joint.gan_code=attributes"]


def test_overrides_are_typed():
    config = apply_overrides(get_preset("tiny"), ["vae.latent_dim=12", "vgan.recon_l1=2.5", "joint.hard_negatives=true", "vae.learning_rate=1", "data.path=/x y", "joint.learning_rate=1e-3"])
    assert config.vae.latent_dim == 12 and config.vgan.recon_l1 == 2.5 and config.joint.hard_negatives is True
    assert config.vae.learning_rate == 1.0 and isinstance(config.vae.learning_rate, float)
    assert config.data.path == "/x y" and config.joint.learning_rate == 0.001


@pytest.mark.parametrize(
    "override,message",
    [
        ("vae.latnt_dim=3", "unknown config key 'vae.latnt_dim' \\(did you mean 'latent_dim'\\?\\)"),
        ("vaex.latent_dim=3", "unknown config key 'vaex' \\(did you mean 'vae'\\?\\)"),
        ("vae=3", "unknown config key 'vae'"),
        ("vae.latent_dim=abc", "vae.latent_dim: expected int, got str 'abc'"),
        ("vae.learning_rate=fast", "vae.learning_rate: expected float, got str 'fast'"),
        ("vae.latent_dim=1.5", "vae.latent_dim: expected int, got float"),
        ("vae.latent_dim=true", "vae.latent_dim: expected int, got True"),
        ("vae.latent_dim=[1, 2]", "expected a single value"),
        ("latent_dim", "not of the form section.key=value"),
    ],
)
def test_bad_overrides_are_named(override, message):
    with pytest.raises(ConfigError, match=message):
        apply_overrides(get_preset("tiny"), [override])


def test_partial_yaml_starts_from_its_preset(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"preset": "tiny", "vae": {"latent_dim": 6}}))
    config = load_config(path)
    expected = get_preset("tiny")
    expected.vae.latent_dim = 6
    assert config == expected


def test_yaml_errors_name_the_file(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"vae": {"latent": 6}}))
    with pytest.raises(ConfigError, match="bad.yaml: unknown config key 'vae.latent'"):
        load_config(path)
    path.write_text("vae: [unclosed")
    with pytest.raises(ConfigError, match="bad.yaml: cannot read config"):
        load_config(path)


def test_resolve_order_and_seed(tmp_path):
    config = resolve_config("tiny", None, ["train.seed=3"], seed=9)
    assert config.train.seed == 9 and config.data.seed == get_preset("tiny").data.seed
    save_config(config, tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="conflicts"):
        resolve_config("paper", str(tmp_path / "c.yaml"))
    with pytest.raises(ConfigError, match="unknown preset 'huge'"):
        resolve_config("huge")


def test_every_stage_has_a_dataclass():
    stages = {f.name for f in dataclasses.fields(Config)}
    assert {"data", "words", "vae", "joint", "stackgan", "vgan", "train"} <= stages

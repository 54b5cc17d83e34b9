"""Numerics options: train.precision = "mixed_bfloat16" (bfloat16 compute, float32 weights and losses)
or "auto", and train.jit_compile (XLA)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2v.config import apply_overrides, get_preset, load_config
from keras_t2v.models.vgan_model import VideoGAN
from keras_t2v.pipeline import TextToVideo
from keras_t2v.precision import cpu_flags, in_float32, native_bfloat16, resolve_precision
from keras_t2v.runs import Run
from keras_t2v.stages import dtype_policy
from keras_t2v.train import main as train


def test_bfloat16_step_matches_float32_within_three_percent():
    rng = np.random.default_rng(0)
    batch = {"video": rng.uniform(-1, 1, (4, 8, 16, 16, 3)).astype("float32"), "embedding": rng.normal(size=(4, 6)).astype("float32"),
             "wrong_embedding": rng.normal(size=(4, 6)).astype("float32")}
    logs = {}
    for precision in ("float32", "mixed_bfloat16"):
        with dtype_policy(precision):
            keras.utils.set_random_seed(0)
            model = VideoGAN("text", z_dim=3, gf_dim=8, df_dim=8, image_size=16, frames=8, text_dim=6, mask_l1=0.1, seed=0)
            model.compile()
        assert model.generator.compute_dtype == ("bfloat16" if precision != "float32" else "float32")
        assert all(w.dtype == "float32" for w in model.generator.weights)  # weights stay float32
        logs[precision] = model.train_on_batch(batch, return_dict=True)
    assert keras.config.dtype_policy().name == "float32"  # the global policy is restored
    # bfloat16 keeps 8 significand bits (unit roundoff 2^-8, 0.4 %). Through the D and G stacks the losses
    # moved by up to 0.6 % on one CPU and 1.2 % on another (oneDNN picks different kernels), hence 3 %.
    for key, value in logs["float32"].items():
        assert logs["mixed_bfloat16"][key] == pytest.approx(value, rel=0.03, abs=1e-3), key
    with pytest.raises(ValueError, match="train.precision must be one of"):
        with dtype_policy("float16"):
            pass


CPUINFO = """processor\t: {n}
model name\t: Some CPU
flags\t\t: fpu sse2 avx2 avx512f {extra}
"""


@pytest.mark.parametrize("extra,expected", [("avx512_bf16", "mixed_bfloat16"), ("amx_bf16 amx_tile", "mixed_bfloat16"),
                                            ("avx512vnni", "float32")])
def test_auto_picks_bfloat16_where_the_cpu_has_it(tmp_path, extra, expected):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO.format(n=0, extra=extra) + "\n" + CPUINFO.format(n=1, extra=extra))
    assert ("avx512f" in cpu_flags(cpuinfo)) and cpu_flags(tmp_path / "missing") == set()
    if not tf.config.list_physical_devices("GPU"):
        assert resolve_precision("auto", native=native_bfloat16(cpuinfo)) == expected
    assert resolve_precision("float32", native=True) == "float32"  # an explicit choice is kept
    with pytest.raises(ValueError, match="train.precision must be one of"):
        resolve_precision("float16")


def test_a_run_records_the_precision_auto_resolved_to(tmp_path):
    config = apply_overrides(get_preset("tiny"), ["train.precision=auto"])
    run = Run.open(tmp_path / "run", config)
    resolved = resolve_precision("auto")
    assert run.config.train.precision == load_config(tmp_path / "run" / "config.yaml").train.precision == resolved
    assert config.train.precision == "auto"  # the caller's config is not changed
    assert Run.open(tmp_path / "run", config).config.train.precision == resolved  # reopens: the same machine resolves alike


def test_a_functional_model_saved_in_bfloat16_is_copied_into_float32(tmp_path):
    with dtype_policy("mixed_bfloat16"):
        inputs = keras.Input((12,))
        model = keras.Model(inputs, keras.layers.Dense(4)(keras.layers.Dense(8, activation="relu")(inputs)))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.layers[-1].dtype_policy.name == "mixed_bfloat16"  # .keras keeps each layer's policy
    copy = in_float32(loaded)
    assert {layer.dtype_policy.name for layer in copy._flatten_layers()} == {"float32"}
    x = np.random.default_rng(0).normal(size=(5, 12)).astype("float32")
    assert np.asarray(copy(x)).dtype == np.float32
    np.testing.assert_allclose(np.asarray(copy(x)), np.asarray(loaded(x), np.float32), rtol=0.05, atol=0.05)
    assert in_float32(copy) is copy  # already float32: the model itself


def test_every_stage_trains_and_generates_in_bfloat16(tmp_path):
    run_dir = tmp_path / "bf16"
    assert train(["--preset", "tiny", "--run-dir", str(run_dir), "--set", "train.precision=mixed_bfloat16",
                  "--set", "vgan.variant=text", "--no-evaluate"]) == 0
    pipe = TextToVideo.from_pretrained(run_dir)
    for network in (pipe.text_encoder, pipe.image_generator, pipe.video_generator):  # inference computes in float32
        assert {layer.dtype_policy.name for layer in network._flatten_layers()} == {"float32"}, network.name
    out = pipe("a big blue box bounces up and down on a gray background", seed=0)
    assert out.frames.dtype == np.uint8 and out.frames.shape == (1, 8, 16, 16, 3) and out.masks.dtype == np.float32


def test_jit_compile_step_matches_the_eager_graph():
    """train.jit_compile (XLA): the same VGAN step, compiled, gives the same losses on CPU."""
    rng = np.random.default_rng(1)
    batch = {"video": rng.uniform(-1, 1, (4, 8, 16, 16, 3)).astype("float32")}
    logs = {}
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = VideoGAN("image", gf_dim=8, df_dim=8, image_size=16, frames=8, mask_l1=0.1, seed=0)
        model.compile(jit_compile=jit)
        assert model.jit_compile == jit  # XLA is really on (Keras may turn it off where unsupported)
        logs[jit] = model.train_on_batch(batch, return_dict=True)
    for key, value in logs[False].items():
        assert logs[True][key] == pytest.approx(value, rel=1e-3, abs=1e-5), key

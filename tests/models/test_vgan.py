import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2v.models.layers import CosinePath, NoiseChosenPath, TranslatedCopies, TwoStreamComposite
from keras_t2v.models.losses import path_errors, winner_cross_entropy, winner_takes_all_l1
from keras_t2v.models.vgan import conditional_generator, discriminator, unconditional_generator
from keras_t2v.models.vgan_model import VideoGAN

N = keras.ops.convert_to_numpy
ATTRIBUTES = np.array([[0, 1, 0, 2, 1], [1, 2, 1, 3, 0], [2, 3, 0, 4, 2], [0, 5, 1, 5, 1]], "int32")  # (4, 5) labels for _batch's four clips


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_paper_parameter_counts_match_the_reference():
    """shared/specs/reference_architectures.md 2.2-2.5 (BN gamma/beta and conv biases counted)."""
    assert trainable(unconditional_generator(100, 64, 64, 32)) == 16_245_383  # "~16.25 M"
    assert trainable(discriminator(64, 64, 32)) == 11_057_858  # "~11.06 M"
    assert trainable(conditional_generator(64, 64, 32)) == 68_216_455  # "~68.2 M"
    assert trainable(discriminator(128, 64, 32)) == 44_135_810  # "~44.1 M"
    g = unconditional_generator(100, 64, 64, 32)
    background = sum(trainable(l) for l in g.layers if l.name.startswith("bg_"))
    assert background == 3_577_667  # "background 3.58 M"


# A fresh process imports the package, then seeds, then builds the fixes preset's video GAN at tiny size;
# prints a digest of its initial weights.
BUILD_SEEDED = """
import hashlib
import keras
from keras_t2v.models.vgan_model import VideoGAN
keras.utils.set_random_seed(3)
model = VideoGAN("text", z_dim=4, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, ema_decay=0.9,
                 attribute_weight=1.0, conditional_bn=True, projection_d=True, upsample="nearest", unet_skips=True,
                 sprite=True, sprite_path=2, sprite_source="frame", sprite_track_weight=1.0, sprite_path_choices=2, seed=3)
digest = hashlib.sha1()
for w in model.generator.weights + model.discriminator.weights:
    digest.update(keras.ops.convert_to_numpy(w).tobytes())
print("digest", digest.hexdigest())
"""


def test_seeded_build_is_the_same_in_every_process():
    """train.seed fixes the initial weights whatever process builds them: no initialiser takes its
    seed at import time (where Python's random state is new per process)."""
    digests = []
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", BUILD_SEEDED], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        digests.append(done.stdout.split("digest ")[-1].strip())
    assert digests[0] == digests[1]


def test_every_layer_draws_its_own_random_kernel():
    """No two kernels share their draws (a shared seed gives kernels of one size equal values)."""
    keras.utils.set_random_seed(0)
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True)
    kernels = [N(w).ravel()[:16] for w in g.weights if w.path.endswith("/kernel") and np.std(N(w)) > 0]
    assert len(kernels) > 5
    assert len({k.tobytes() for k in kernels}) == len(kernels)


@pytest.mark.parametrize("size,frames", [(64, 32), (16, 8)])
def test_shapes(size, frames):
    g = unconditional_generator(8, 4, size, frames)
    video, mask, background = g(np.zeros((2, 8), "float32"))
    assert video.shape == (2, frames, size, size, 3) and mask.shape == (2, frames, size, size, 1)
    assert background.shape == (2, size, size, 3)
    c = conditional_generator(4, size, frames, text_dim=6, z_dim=3)
    out = c([np.zeros((2, size, size, 3), "float32"), np.zeros((2, 6), "float32"), np.zeros((2, 3), "float32")])
    assert out[0].shape == (2, frames, size, size, 3)
    assert discriminator(4, size, frames)(N(video)).shape == (2, 2)
    with pytest.raises(ValueError, match="frames = image_size / 2"):
        unconditional_generator(8, 4, 64, 16)


def test_composition_formula():
    foreground = np.full((1, 2, 2, 2, 3), 0.5, "float32")
    background = np.full((1, 2, 2, 3), -0.25, "float32")
    composite = TwoStreamComposite()
    np.testing.assert_allclose(N(composite([foreground, np.zeros((1, 2, 2, 2, 1), "float32"), background])), -0.25)
    np.testing.assert_allclose(N(composite([foreground, np.ones((1, 2, 2, 2, 1), "float32"), background])), 0.5)
    half = N(composite([foreground, np.full((1, 2, 2, 2, 1), 0.5, "float32"), background]))
    np.testing.assert_allclose(half, 0.125)


def _batch(text=False):
    rng = np.random.default_rng(0)
    data = {"video": rng.uniform(-1, 1, (4, 8, 16, 16, 3)).astype("float32")}
    if text:
        data["embedding"] = rng.normal(size=(4, 6)).astype("float32")
        data["wrong_embedding"] = rng.normal(size=(4, 6)).astype("float32")
    return data


def _trains_and_round_trips(tmp_path, **options):
    """A tiny text VideoGAN with `options`: one train step gives finite losses, and the model saved
    and loaded in safe mode generates the same video. Returns the trained model."""
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0, **options)
    model.compile()
    logs = model.train_on_batch(_batch(True), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    model.save(tmp_path / "options.keras")
    loaded = keras.models.load_model(tmp_path / "options.keras", safe_mode=True)
    data, z = _batch(True), np.zeros((4, 3), "float32")
    np.testing.assert_array_equal(N(loaded.generate(data["video"][:, 0], data["embedding"], z)[0]),
                                  N(model.generate(data["video"][:, 0], data["embedding"], z)[0]))
    return model


@pytest.mark.parametrize("variant", ["unconditional", "image", "text"])
def test_one_train_step_moves_both_networks(variant):
    model = VideoGAN(variant, z_dim=8, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6 if variant == "text" else 0,
                     mask_l1=0.1, seed=0)
    model.compile()
    g0, d0 = [w.copy() for w in model.generator.get_weights()], [w.copy() for w in model.discriminator.get_weights()]
    logs = model.train_on_batch(_batch(variant == "text"), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert ("d_wrong" in logs) == (variant == "text")
    assert any(not np.allclose(a, b) for a, b in zip(g0, model.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d0, model.discriminator.get_weights()))


def test_mask_penalty_and_first_frame_l1_values():
    model = VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, mask_l1=0.1, recon_l1=10.0, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    data = _batch()
    fake, mask, _ = (N(t) for t in model.generator(data["video"][:, 0], training=True))
    logs = model.train_on_batch(data, return_dict=True)
    assert logs["mask_l1"] == pytest.approx(mask.mean(), rel=1e-4)
    assert logs["recon_l1"] == pytest.approx(np.abs(fake[:, 0] - data["video"][:, 0]).mean(), rel=1e-4)


def test_matching_aware_loss_uses_the_wrong_caption():
    """With real video and a D that only reads the text, the D loss depends on the wrong captions."""
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    data = _batch(text=True)
    first = model.train_on_batch(data, return_dict=True)["d_wrong"]
    model.reset_metrics()
    data["wrong_embedding"] = data["wrong_embedding"] * 50.0
    second = model.train_on_batch(data, return_dict=True)["d_wrong"]
    assert first != pytest.approx(second, abs=1e-6)


def test_save_load_round_trip(tmp_path):
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0)
    model.compile()
    model.fit(tf.data.Dataset.from_tensors(_batch(True)).repeat(2), epochs=1, verbose=0)
    model.save(tmp_path / "vgan.keras")
    loaded = keras.models.load_model(tmp_path / "vgan.keras", safe_mode=True)
    data = _batch(True)
    z = np.zeros((4, 3), "float32")
    a = model.generate(data["video"][:, 0], data["embedding"], z)
    b = loaded.generate(data["video"][:, 0], data["embedding"], z)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(N(x), N(y))
    assert int(loaded.g_optimizer.iterations) == 2


def test_generator_ema_follows_the_formula_and_is_used_for_sampling(tmp_path):
    model = VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, ema_decay=0.75, seed=0)
    model.compile()
    assert not model.ema_generator.trainable_weights  # the optimizers never see the average
    start = [w.copy() for w in model.ema_generator.get_weights()]
    np.testing.assert_array_equal(start[0], model.generator.get_weights()[0])
    model.train_on_batch(_batch(), return_dict=True)
    for average, before, after in zip(model.ema_generator.get_weights(), start, model.generator.get_weights()):
        np.testing.assert_allclose(average, 0.75 * before + 0.25 * after, rtol=1e-5, atol=1e-7)
    first = _batch()["video"][:, 0]
    sampled = N(model.generate(first)[0])
    np.testing.assert_allclose(sampled, N(model.ema_generator(first)[0]), atol=1e-6)
    assert not np.allclose(sampled, N(model.generate(first, use_ema=False)[0]))
    model.save(tmp_path / "ema.keras")
    loaded = keras.models.load_model(tmp_path / "ema.keras", safe_mode=True)
    for a, b in zip(model.ema_generator.get_weights(), loaded.ema_generator.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_given_first_frame_is_the_condition_and_the_l1_target():
    model = VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    data = _batch()
    data["first_frame"] = np.random.default_rng(5).uniform(-1, 1, size=(4, 16, 16, 3)).astype("float32")
    fake = N(model.generator(data["first_frame"], training=True)[0])
    logs = model.train_on_batch(data, return_dict=True)
    assert logs["recon_l1"] == pytest.approx(np.abs(fake[:, 0] - data["first_frame"]).mean(), rel=1e-4)



def test_training_batches_condition_on_generated_first_frames_by_share(tmp_path):
    from keras_t2v.config import get_preset
    from keras_t2v.data.records import caption_pool
    from keras_t2v.models.vgan_training import video_batches
    from keras_t2v.runs import Run

    run = Run.open(tmp_path / "run", get_preset("tiny"))
    captions = caption_pool(run.config.data, "train").captions.reshape(-1).tolist()
    codes = np.random.default_rng(0).normal(size=(len(captions), 6)).astype("float32")
    bank = np.full((len(captions) // 3, 16, 16, 3), 255, np.uint8)  # every generated frame is white (1.0)

    def first_batch(share):
        batches = video_batches(run, "train", 16, codes, captions, shuffle=False, epochs=1, generated_frames=bank,
                                generated_share=share, tracks=True)
        return {k: N(v) for k, v in next(iter(batches)).items()}

    real = first_batch(0.0)
    np.testing.assert_array_equal(real["first_frame"], real["video"][:, 0])
    assert (first_batch(1.0)["first_frame"] == 1.0).all()
    half = first_batch(0.5)["first_frame"]
    white = (half == 1.0).all(axis=(1, 2, 3))
    assert 0 < white.sum() < 16
    np.testing.assert_array_equal(half[~white], real["video"][~white, 0])
    # The object's track supervises only the clips conditioned on their own first frame.
    assert first_batch(1.0)["track_weight"].sum() == 0.0 and real["track_weight"].sum() > 0
    assert (first_batch(0.5)["track_weight"][white] == 0.0).all()
    assert real["track"].shape == (16, 8, 2) and np.abs(real["track"]).max() > 0
    np.testing.assert_array_equal(real["embedding"][0], codes[captions.index(real["caption"][0].decode())])


def test_attribute_cross_entropy_by_hand():
    from keras_t2v.models.losses import attribute_cross_entropy

    logits = np.log(np.array([[0.5, 0.25, 0.25, 0.9, 0.1]], "float32"))  # two attributes of 3 and 2 values
    value = float(N(attribute_cross_entropy(logits, np.array([[1, 0]]), (3, 2))))
    assert value == pytest.approx((-np.log(0.25) - np.log(0.9)) / 2, rel=1e-5)


def test_auxiliary_attribute_classifier_trains_both_networks_on_the_attributes(tmp_path):
    """attribute_weight: D classifies real videos' attributes, G is pushed towards its caption's."""
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, attribute_weight=1.0, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    data = _batch(True) | {"attributes": ATTRIBUTES}
    logs = model.train_on_batch(data, return_dict=True)
    assert 0 < logs["attribute_real"] and 0 < logs["attribute_fake"]
    model.reset_metrics()
    plain = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0)
    plain.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    plain.generator.set_weights(model.generator.get_weights())
    for layer in plain.discriminator.layers:  # the same D, without the attribute head
        layer.set_weights(model.discriminator.get_layer(layer.name).get_weights())
    base = plain.train_on_batch(_batch(True), return_dict=True)
    # with frozen weights and the same noise, the loss is the plain loss plus the weighted attribute terms
    assert logs["d_loss"] == pytest.approx(base["d_loss"] + logs["attribute_real"], rel=1e-4)
    assert logs["g_loss"] == pytest.approx(base["g_loss"] + logs["attribute_fake"], rel=1e-4)
    model.save(tmp_path / "aux.keras")
    loaded = keras.models.load_model(tmp_path / "aux.keras", safe_mode=True)
    assert loaded.attribute_weight == 1.0 and len(loaded.discriminator.outputs) == 2
    with pytest.raises(ValueError, match="need the text variant"):
        VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, attribute_weight=1.0)


def test_conditional_batch_norm_text_generator_trains_and_round_trips(tmp_path):
    """vgan.conditional_bn: every BatchNorm of both decoding streams reads the text code; EMA too."""
    from keras_t2v.models.layers import ConditionalBatchNorm

    with pytest.raises(ValueError, match="text variant"):
        VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, conditional_bn=True)
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, conditional_bn=True,
                     ema_decay=0.5, seed=0)
    cbn = [layer for layer in model.generator.layers if isinstance(layer, ConditionalBatchNorm)]
    assert sorted(layer.name for layer in cbn) == ["bg_up1_bn", "fg_time_bn", "fg_up1_bn"]  # 16x16: one up-block per stream
    model.compile()
    logs = model.train_on_batch(_batch(True), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert all(np.abs(layer.gamma.get_weights()[0]).max() > 0 for layer in cbn)
    data = _batch(True)
    z = np.zeros((4, 3), "float32")
    other = model.generate(data["video"][:, 0], data["embedding"] * 10.0, z)[0]
    model.save(tmp_path / "cbn.keras")
    loaded = keras.models.load_model(tmp_path / "cbn.keras", safe_mode=True)
    a = N(model.generate(data["video"][:, 0], data["embedding"], z)[0])
    np.testing.assert_array_equal(a, N(loaded.generate(data["video"][:, 0], data["embedding"], z)[0]))
    assert not np.allclose(a, N(other))  # the text code changes the video


def test_projection_discriminator_reads_the_text_by_inner_product_and_round_trips(tmp_path):
    """vgan.projection_d: D's two logits are an unconditional term plus, each, the inner product of
    the pooled video features with its own projection of the text code."""
    with pytest.raises(ValueError, match="text variant"):
        VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, projection_d=True)
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, projection_d=True,
                     attribute_weight=1.0, seed=0)
    d = model.discriminator
    assert "video_text" not in [layer.name for layer in d.layers]  # no tiled text
    data = _batch(True) | {"attributes": ATTRIBUTES}
    video, text = data["video"], data["embedding"]
    logits, attributes = (N(t) for t in d([video, text]))
    assert logits.shape == (4, 2) and attributes.shape == (4, 20)
    features = keras.Model(d.inputs, [d.get_layer("unconditional_logits").output, d.get_layer("feature_pool").output])
    unconditional, pooled = (N(t) for t in features([video, text]))
    projections = (text @ d.get_layer("text_projection").get_weights()[0]).reshape(4, 2, -1)
    np.testing.assert_allclose(logits, unconditional + np.einsum("bw,bkw->bk", pooled, projections), rtol=1e-4, atol=1e-6)
    model.compile()
    logs = model.train_on_batch(data, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    model.save(tmp_path / "proj.keras")
    loaded = keras.models.load_model(tmp_path / "proj.keras", safe_mode=True)
    np.testing.assert_allclose(N(loaded.discriminator([video, text])[0]), N(model.discriminator([video, text])[0]), rtol=1e-5)


def test_flattened_attribute_head_reads_where_the_object_is_at_each_time(tmp_path):
    """vgan.attribute_head="flatten": the auxiliary logits are a linear function of every position
    of D's last features (time x height x width x channels), not of their mean."""
    with pytest.raises(ValueError, match="'mean'"):
        discriminator(4, 16, 8, text_dim=6, attribute_classes=20, attribute_head="mean")
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, projection_d=True,
                     attribute_weight=1.0, attribute_head="flatten", seed=0)
    d = model.discriminator
    data = _batch(True) | {"attributes": ATTRIBUTES}
    video, text = data["video"], data["embedding"]
    last = d.get_layer("feature_flatten").input
    features = N(keras.Model(d.inputs, last)([video, text]))  # (4, 2, 2, 2, 32) at 16x16x8
    kernel, bias = d.get_layer("attribute_logits").get_weights()
    assert kernel.shape == (features[0].size, 20)
    np.testing.assert_allclose(N(d([video, text])[1]), features.reshape(4, -1) @ kernel + bias, rtol=1e-4, atol=1e-6)
    model.compile()
    logs = model.train_on_batch(data, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    model.save(tmp_path / "flat.keras")
    loaded = keras.models.load_model(tmp_path / "flat.keras", safe_mode=True)
    np.testing.assert_allclose(N(loaded.discriminator([video, text])[1]), N(d([video, text])[1]), rtol=1e-5)


def _frame_judge(seed=1):
    """A stand-in for Stage-I's guide: frames (B, 16, 16, 3) -> logits (B, 14) over the four frame attributes."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Flatten(), keras.layers.Dense(14)])


def test_frame_guide_judges_evenly_spaced_frames_against_each_clips_caption():
    """vgan.frame_guide_weight: the judge sees frames 0, 4, 7 of an 8-frame fake (frame_guide_frames=3),
    each scored against its own clip's shape, colour, size and background."""
    from keras_t2v.models.losses import attribute_cross_entropy

    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, frame_guide_weight=1.0,
                     frame_guide_frames=3, seed=0)
    assert model.guide_frames == [0, 4, 7]
    judge = _frame_judge()
    model.use_frame_guide(judge)
    assert not judge.trainable_weights
    fake = np.random.default_rng(0).uniform(-1, 1, (4, 8, 16, 16, 3)).astype("float32")
    frames = fake[:, [0, 4, 7]].reshape(12, 16, 16, 3)
    labels = ATTRIBUTES[:, [0, 1, 2, 4]].repeat(3, axis=0)  # clip 0's three frames, then clip 1's, ...
    expected = N(attribute_cross_entropy(judge(frames), labels, (3, 6, 2, 3)))
    assert float(N(model._frame_guide_loss(fake, ATTRIBUTES))) == pytest.approx(float(expected), rel=1e-5)
    with pytest.raises(ValueError, match="frame_guide_frames must be in"):
        VideoGAN("text", gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, frame_guide_weight=1.0, frame_guide_frames=9)
    with pytest.raises(ValueError, match="need the text variant"):
        VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, frame_guide_weight=1.0)


def test_frame_guide_adds_its_weighted_loss_to_g_only_and_is_not_saved(tmp_path):
    data = _batch(True) | {"attributes": ATTRIBUTES}
    settings = dict(z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0)
    model = VideoGAN("text", frame_guide_weight=0.5, **settings)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    with pytest.raises(ValueError, match="use_frame_guide"):
        model.train_on_batch(data)
    model = VideoGAN("text", frame_guide_weight=0.5, **settings)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    model.use_frame_guide(_frame_judge())
    twin = VideoGAN("text", **settings)  # the same G, D and noise, no judge
    twin.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    twin.set_weights(model.get_weights())
    logs, base = model.train_on_batch(data, return_dict=True), twin.train_on_batch(data, return_dict=True)
    assert logs["guide_fake"] > 0
    assert logs["d_loss"] == pytest.approx(base["d_loss"], rel=1e-5)
    assert logs["g_loss"] == pytest.approx(base["g_loss"] + 0.5 * logs["guide_fake"], rel=1e-4)
    model.save(tmp_path / "guided.keras")
    loaded = keras.models.load_model(tmp_path / "guided.keras", safe_mode=True)
    assert loaded.frame_guide_weight == 0.5 and len(loaded.weights) == len(twin.weights)


def test_nearest_upsampling_doubles_by_copying_then_convolves_and_round_trips(tmp_path):
    """vgan.upsample="nearest": every generator block is UpSampling + a 3x3(x3) convolution instead of
    a 4x4(x4) stride-2 transposed convolution; shapes are unchanged."""
    g = unconditional_generator(8, 4, 16, 8, upsample="nearest")
    assert g(np.zeros((2, 8), "float32"))[0].shape == (2, 8, 16, 16, 3)
    transposed = [layer.name for layer in g.layers if "Transpose" in type(layer).__name__]
    assert sorted(transposed) == ["bg_project", "fg_project"]  # z's 1x1 -> 4x4 projections, not upsampling blocks
    assert g.get_layer("fg_up1").kernel.shape[:3] == (3, 3, 3)
    up = g.get_layer("fg_up1_up")
    x = np.random.default_rng(0).normal(size=(1, 2, 2, 2, 1)).astype("float32")
    np.testing.assert_array_equal(N(up(x)), x.repeat(2, 1).repeat(2, 2).repeat(2, 3))
    with pytest.raises(ValueError, match="unknown VGAN upsampling 'bilinear'"):
        conditional_generator(4, 16, 8, upsample="bilinear")
    _trains_and_round_trips(tmp_path, upsample="nearest")


def test_unet_skips_hand_the_frame_encoder_maps_to_both_streams_and_round_trip(tmp_path):
    """vgan.unet_skips: each decoder block's output is joined with the encoder map of its size, the
    same map at every time step of the foreground; without the option the graph is the reference's."""
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True)
    inputs = [np.random.default_rng(0).normal(size=(2, 16, 16, 3)).astype("float32"), np.ones((2, 6), "float32"),
              np.zeros((2, 3), "float32")]
    assert g(inputs)[0].shape == (2, 8, 16, 16, 3)
    probe = keras.Model(g.inputs, [g.get_layer("enc1_relu").output, g.get_layer("fg_skip1").output,
                                   g.get_layer("bg_skip1").output])
    encoded, foreground, background = (N(t) for t in probe(inputs))
    assert encoded.shape == (2, 8, 8, 32) and foreground.shape == (2, 4, 8, 8, 32 + 32)
    for t in range(4):
        np.testing.assert_array_equal(foreground[:, t, ..., 32:], encoded)
    np.testing.assert_array_equal(background[..., 32:], encoded)
    plain = conditional_generator(4, 16, 8, text_dim=6, z_dim=3)
    assert not [layer for layer in plain.layers if "skip" in layer.name]
    # The blocks after a skip read 32 more channels: 4x4 transposed kernels to the background's 3 and
    # the foreground's 3 + mask's 1 outputs.
    assert trainable(g) - trainable(plain) == 4 * 4 * 32 * 3 + 4 * 4 * 4 * 32 * 4
    with pytest.raises(ValueError, match="unconditional VGAN has none"):
        VideoGAN("unconditional", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, unet_skips=True)
    _trains_and_round_trips(tmp_path, unet_skips=True)


def test_translated_copies_move_the_map_by_each_steps_shift_bilinearly_and_pass_gradients_to_it():
    """TranslatedCopies: time step t holds the map moved by the mean of its shifts (fractions of the
    width / height), bilinear between pixels, zero where the source falls outside."""
    x = np.zeros((1, 8, 8, 1), "float32")
    x[0, 2, 3, 0] = 1.0
    shifts = np.array([[[0, 0], [0, 0], [0.25, 0.125], [0.25, 0.125], [-0.0625, 0], [-0.0625, 0]]], "float32")
    moved = N(TranslatedCopies(3)([x, shifts]))[0, ..., 0]  # (3, 8, 8)
    np.testing.assert_array_equal(moved[0], x[0, ..., 0])
    assert moved[1, 3, 5] == 1.0 and moved[1].sum() == 1.0  # 2 px right, 1 down
    np.testing.assert_allclose(moved[2, 2, 2:4], [0.5, 0.5])  # half a pixel left
    edge = N(TranslatedCopies(1)([x, np.array([[[0.75, 0.0]]], "float32")]))
    assert edge.sum() == 0.0  # moved off the map
    shifts = tf.Variable(np.zeros((1, 6, 2), "float32"))  # on whole pixels, where the moving skips start
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(TranslatedCopies(3)([x, shifts]) * np.arange(8, dtype="float32")[:, None])  # rewards moving right
    gradient = N(tape.gradient(loss, shifts))
    assert np.all(gradient[..., 0] > 0) and np.allclose(gradient[..., 1], 0.0)
    with pytest.raises(ValueError, match="6 shifts do not split into 4 time steps"):
        TranslatedCopies(4)([x, shifts])
    assert TranslatedCopies.from_config(TranslatedCopies(3).get_config()).frames == 3


def test_moving_skips_start_as_the_still_ones_then_follow_the_predicted_shift(tmp_path):
    """vgan.moving_skips: the foreground's skip at each time step is frame 0's map translated by a
    shift the generator reads from [text, z]; its last layer starts at zero, so at initialisation
    the video is the one of unet_skips alone."""
    settings = dict(text_dim=6, z_dim=3, unet_skips=True)
    still, moving = conditional_generator(4, 16, 8, **settings), conditional_generator(4, 16, 8, moving_skips=True, **settings)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 16, 16, 3)).astype("float32"), rng.normal(size=(2, 6)).astype("float32"),
              rng.normal(size=(2, 3)).astype("float32")]
    for layer in still.layers:
        if layer.weights:
            layer.set_weights(moving.get_layer(layer.name).get_weights())
    np.testing.assert_allclose(N(moving(inputs)[0]), N(still(inputs)[0]), atol=1e-6)
    shift = moving.get_layer("skip_shift")
    bias = np.zeros(16, "float32")
    bias[0::2] = np.arctanh(0.25)  # every frame 0.25 of the width to the right = 2 px of the 8x8 map
    shift.set_weights([shift.get_weights()[0], bias])
    probe = keras.Model(moving.inputs, [moving.get_layer("enc1_relu").output, moving.get_layer("fg_skip1").output])
    encoded, foreground = (N(t) for t in probe(inputs))
    for t in range(4):
        np.testing.assert_allclose(foreground[:, t, :, 2:, 32:], encoded[:, :, :-2], atol=1e-5)
    assert trainable(moving) - trainable(still) == (6 + 3) * 64 + 64 + 64 * 8 * 2 + 8 * 2
    with pytest.raises(ValueError, match="needs unet_skips"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, moving_skips=True)
    trained = _trains_and_round_trips(tmp_path, unet_skips=True, moving_skips=True)
    assert np.abs(N(trained.generator.get_layer("skip_shift").bias)).max() > 0  # G's loss reaches the shift from zero


def test_sprite_draws_the_foreground_once_and_moves_it_by_the_predicted_shift(tmp_path):
    """vgan.sprite: one 2D foreground and mask, copied to every frame translated by a shift read from
    [text, z] and the mask's 8x8 means; the shift starts at zero, so at initialisation the video is still."""
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, sprite=True)
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(2, 16, 16, 3)).astype("float32"), rng.normal(size=(2, 6)).astype("float32"),
              rng.normal(size=(2, 3)).astype("float32")]
    video, mask, _ = (N(t) for t in g(inputs))
    np.testing.assert_array_equal(video, np.repeat(video[:, :1], 8, axis=1))
    assert not [layer for layer in g.layers if len(layer.output.shape) == 5 and "moved" not in layer.name and layer.name != "compose"]
    shift = g.get_layer("sprite_shift")
    bias = np.zeros(16, "float32")
    bias[1::2] = np.arctanh(np.arange(8) / 16)  # frame t: t px down
    shift.set_weights([shift.get_weights()[0], bias])
    probe = keras.Model(g.inputs, [g.get_layer("fg_mask_sigmoid").output, g.outputs[1]])
    drawn, moved = (N(t) for t in probe(inputs))
    for t in range(8):
        np.testing.assert_allclose(moved[:, t, t:], drawn[:, : 16 - t], atol=1e-5)
        np.testing.assert_allclose(moved[:, t, :t], 0.0, atol=1e-5)
    # The shift reads [text (6), z (3), the mask's 8x8 means (64)] through 64 hidden units to 8 x (x, y).
    assert trainable(keras.Model(g.get_layer("sprite_reads").output, g.get_layer("sprite_shift").output)) == (9 + 64) * 64 + 64 + 64 * 16 + 16
    with pytest.raises(ValueError, match="needs text_dim > 0"):
        conditional_generator(4, 16, 8, sprite=True)
    with pytest.raises(ValueError, match="no 3D foreground skips"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, moving_skips=True, sprite=True)
    trained = _trains_and_round_trips(tmp_path, unet_skips=True, sprite=True)
    assert np.abs(N(trained.generator.get_layer("sprite_shift").bias)).max() > 0  # G's loss reaches the shift from zero


def test_cosine_path_is_tanh_of_the_lowest_cosines_over_the_clip():
    """CosinePath: (B, 2K) -> (B, frames, 2), tanh(sum_k c_k cos(pi k (t + 1/2) / frames)) per axis."""
    coefficients = np.array([[0.3, -0.5, 0.2, 0.0, 0.0, 1.0]], "float32")  # x: (0.3, -0.5, 0.2), y: (0, 0, 1)
    path = N(CosinePath(8)(coefficients))[0]
    t = np.arange(8) + 0.5
    np.testing.assert_allclose(path[:, 0], np.tanh(0.3 - 0.5 * np.cos(np.pi * t / 8) + 0.2 * np.cos(2 * np.pi * t / 8)), atol=1e-6)
    np.testing.assert_allclose(path[:, 1], np.tanh(np.cos(2 * np.pi * t / 8)), atol=1e-6)
    assert np.all(np.diff(N(CosinePath(8)(np.array([[0.0, -1.0, 0.0, 0.0]], "float32")))[0, :, 0]) > 0)  # K = 2: one sweep
    assert CosinePath.from_config(CosinePath(8).get_config()).frames == 8


def test_sprite_path_moves_the_sprite_along_a_smooth_path_and_round_trips(tmp_path):
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, sprite=True, sprite_path=3)
    assert g.get_layer("sprite_shift").kernel.shape == (64, 3 * 2)
    assert isinstance(g.get_layer("sprite_shift_frames"), CosinePath)
    with pytest.raises(ValueError, match="need sprite"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, sprite_path=3)
    trained = _trains_and_round_trips(tmp_path, unet_skips=True, sprite=True, sprite_path=3)
    assert np.abs(N(trained.generator.get_layer("sprite_shift").bias)).max() > 0


def test_sprite_track_weight_adds_the_shifts_l1_to_the_track_where_weighted(tmp_path):
    """vgan.sprite_track_weight: G pays weight x mean |shift - track| over the weighted (clip, frame)
    entries; at the first step the shift is zero, so the loss is the mean |track| there."""
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0,
                     unet_skips=True, sprite=True, sprite_path=3, sprite_track_weight=2.0)
    model.compile()
    data = _batch(True)
    data["track"] = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 8, 2)).astype("float32")
    data["track_weight"] = np.ones((4, 8), "float32")
    data["track_weight"][0] = 0.0  # clip 0 was conditioned on a generated frame
    data["track_weight"][1, 3:] = 0.0  # clip 1's object is lost after frame 2
    weights = data["track_weight"][..., None]
    logs = model.train_on_batch(data, return_dict=True)
    np.testing.assert_allclose(logs["track_l1"], (np.abs(data["track"]) * weights).sum() / (2 * weights.sum()), rtol=1e-5)
    assert np.abs(N(model.generator.get_layer("sprite_shift").kernel)).max() > 0
    with pytest.raises(ValueError, match="needs sprite"):
        VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, sprite_track_weight=1.0)
    model.save(tmp_path / "tracked.keras")
    loaded = keras.models.load_model(tmp_path / "tracked.keras", safe_mode=True)
    assert loaded.sprite_track_weight == 2.0 and len(loaded.generator.outputs) == 3


def test_sprite_from_the_frame_moves_the_first_frames_own_pixels(tmp_path):
    """vgan.sprite_source="frame": the foreground at every time step is the first frame translated by
    that step's shift; G draws only the mask."""
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, sprite=True, sprite_source="frame")
    assert "fg_foreground" not in [layer.name for layer in g.layers]
    shift = g.get_layer("sprite_shift")
    bias = np.zeros(16, "float32")
    bias[0::2] = np.arctanh(np.arange(8) / 16)  # frame t: t px right
    shift.set_weights([shift.get_weights()[0], bias])
    image = np.random.default_rng(0).uniform(-1, 1, (2, 16, 16, 3)).astype("float32")
    probe = keras.Model(g.inputs, g.get_layer("fg_moved").output)
    moved = N(probe([image, np.ones((2, 6), "float32"), np.zeros((2, 3), "float32")]))
    for t in range(8):
        np.testing.assert_allclose(moved[:, t, :, t:], image[:, :, : 16 - t], atol=1e-5)
    with pytest.raises(ValueError, match="unknown sprite source 'pixels'"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, sprite=True, sprite_source="pixels")
    _trains_and_round_trips(tmp_path, unet_skips=True, sprite=True, sprite_source="frame")


def test_cosine_path_takes_several_paths_per_clip():
    coefficients = np.random.default_rng(0).normal(size=(2, 3, 4)).astype("float32")  # 3 paths of K = 2 per clip
    paths = N(CosinePath(8)(coefficients))
    assert paths.shape == (2, 3, 8, 2)
    np.testing.assert_allclose(paths[1, 2], N(CosinePath(8)(coefficients[1, 2][None]))[0], atol=1e-6)


def test_noise_chosen_path_draws_by_the_odds_with_the_first_noise_entry():
    """u = Phi(z[:, 0]) picks the first path whose cumulative probability exceeds u."""
    paths = np.arange(4 * 3 * 2 * 2, dtype="float32").reshape(4, 3, 2, 2)
    even, sure = np.zeros(3, "float32"), np.array([-20.0, 20.0, -20.0], "float32")
    odds = np.stack([even, even, even, sure])
    z = np.array([[-2.0, 5.0], [0.0, 5.0], [2.0, -5.0], [2.0, 0.0]], "float32")  # u = 0.023, 0.5, 0.977, 0.977
    np.testing.assert_array_equal(N(NoiseChosenPath()([paths, odds, z])), paths[[0, 1, 2, 3], [0, 1, 2, 1]])


def test_winner_takes_all_l1_pays_mostly_for_the_closest_path():
    """Clip 0's track is path 1 exactly, clip 1's is 0.5 from path 0 and 1.5 from path 1 on its two
    weighted frames (frame 2 is not seen): (0.95 x 0 + 0.05 x 8 x 1.0 + 0.95 x 2 x 2 x 0.5 + 0.05 x 2 x 2 x 1.5) / (8 + 4).
    The odds learn those winners, path 1 then path 0, by their cross-entropy; a clip with no entry is left out."""
    track = np.zeros((2, 4, 2), "float32")
    paths = np.stack([np.stack([np.ones((4, 2)), np.zeros((4, 2))]), np.stack([np.full((4, 2), 0.5), np.full((4, 2), 1.5)])]).astype("float32")
    weight = np.array([[1, 1, 1, 1], [1, 1, 0, 0]], "float32")
    expected = (0.05 * 8 * 1.0 + 0.95 * 4 * 0.5 + 0.05 * 4 * 1.5) / 12
    errors = path_errors(paths, track, weight)
    np.testing.assert_allclose(N(errors), [[8.0, 0.0], [2.0, 6.0]], rtol=1e-6)
    np.testing.assert_allclose(N(winner_takes_all_l1(errors, weight)), expected, rtol=1e-6)
    one = errors[:, :1]  # H = 1: the plain weighted mean |path - track|
    np.testing.assert_allclose(N(winner_takes_all_l1(one, weight)), (8 * 1.0 + 4 * 0.5) / 12, rtol=1e-6)
    odds = np.array([[0.0, 1.0], [2.0, 0.0]], "float32")
    log_softmax = lambda o: o - np.log(np.exp(o).sum())  # noqa: E731
    np.testing.assert_allclose(N(winner_cross_entropy(odds, errors, weight)),
                               -(log_softmax(odds[0])[1] + log_softmax(odds[1])[0]) / 2, rtol=1e-6)
    unseen = weight * np.array([[1.0], [0.0]], "float32")
    np.testing.assert_allclose(N(winner_cross_entropy(odds, path_errors(paths, track, unseen), unseen)), -log_softmax(odds[0])[1], rtol=1e-6)


def _tracked_batch():
    data = _batch(True)
    data["track"] = np.random.default_rng(1).uniform(-0.5, 0.5, (4, 8, 2)).astype("float32")
    data["track_weight"] = np.ones((4, 8), "float32")
    return data


def test_sprite_path_choices_keep_several_paths_and_z_picks_one(tmp_path):
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, sprite=True, sprite_path=3, sprite_path_choices=2)
    assert g.get_layer("sprite_shift").kernel.shape == (64, 2 * 3 * 2)
    inputs = [np.zeros((2, 16, 16, 3), "float32"), np.ones((2, 6), "float32"), np.array([[-1, 0, 0], [1, 0, 0]], "float32")]
    paths, odds, chosen = (N(t) for t in keras.Model(g.inputs, [g.get_layer(f"sprite_shift_{n}").output for n in ("paths", "odds", "frames")])(inputs))
    assert paths.shape == (2, 2, 8, 2) and np.abs(paths[0, 0] - paths[0, 1]).max() > 0  # near-zero start, yet distinct
    np.testing.assert_array_equal(odds, 0.0)  # even at first: z[:, 0] < 0 draws path 0, > 0 path 1
    np.testing.assert_array_equal(chosen, paths[[0, 1], [0, 1]])
    with pytest.raises(ValueError, match="z_dim >= 4"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, sprite=True, sprite_path=3, sprite_path_choices=4)
    with pytest.raises(ValueError, match="sprite_path > 0"):
        conditional_generator(4, 16, 8, text_dim=6, z_dim=3, sprite=True, sprite_path_choices=2)
    model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0, unet_skips=True,
                     sprite=True, sprite_path=3, sprite_path_choices=2, sprite_track_weight=1.0)
    model.compile()
    logs = model.train_on_batch(_tracked_batch(), return_dict=True)
    assert np.isfinite(logs["track_l1"]) and np.isclose(logs["path_choice"], np.log(2.0), atol=1e-3)  # even odds at the first step
    assert np.abs(N(model.generator.get_layer("sprite_shift_odds").kernel)).max() > 0
    model.save(tmp_path / "choices.keras")
    loaded = keras.models.load_model(tmp_path / "choices.keras", safe_mode=True)
    first, text, z = inputs[0], inputs[1], np.random.default_rng(2).normal(size=(2, 3)).astype("float32")
    np.testing.assert_array_equal(N(loaded.generate(first, text, z)[0]), N(model.generate(first, text, z)[0]))
    with pytest.raises(ValueError, match="need sprite_track_weight"):
        VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, sprite=True, sprite_path=3, sprite_path_choices=2)


def test_sprite_track_only_trains_the_path_by_the_track_alone():
    """With sprite_track_only the video's losses leave the path's layers as they were (no track
    seen); the track then moves them, and the path's L1 never reaches the mask."""
    def step(track_only, seen):
        model = VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, seed=0, unet_skips=True,
                         sprite=True, sprite_path=3, sprite_track_weight=1.0, sprite_track_only=track_only)
        model.compile()
        path = [model.generator.get_layer(n) for n in ("sprite_shift_hidden", "sprite_shift")]
        before = [w.copy() for layer in path for w in layer.get_weights()]
        data = _tracked_batch()
        data["track_weight"] *= seen
        model.train_on_batch(data, return_dict=True)
        return any(not np.allclose(a, b) for a, b in zip(before, [w for layer in path for w in layer.get_weights()]))

    assert step(track_only=False, seen=0.0)  # without it, D's loss moves the path
    assert not step(track_only=True, seen=0.0)
    assert step(track_only=True, seen=1.0)
    g = conditional_generator(4, 16, 8, text_dim=6, z_dim=3, unet_skips=True, sprite=True, sprite_path=3, sprite_track_only=True)
    inputs = [tf.zeros((2, 16, 16, 3)), tf.ones((2, 6)), tf.ones((2, 3))]
    with tf.GradientTape() as tape:
        shifts = keras.Model(g.inputs, g.get_layer("sprite_shift_frames").output)(inputs, training=True)
    mask_vars = [v for layer in g.layers if layer.name.startswith(("fg_up", "fg_mask")) for v in layer.trainable_variables]
    assert mask_vars and all(grad is None for grad in tape.gradient(tf.reduce_sum(shifts), mask_vars))
    with pytest.raises(ValueError, match="need sprite_track_weight"):
        VideoGAN("text", z_dim=3, gf_dim=4, df_dim=4, image_size=16, frames=8, text_dim=6, sprite=True, sprite_track_only=True)

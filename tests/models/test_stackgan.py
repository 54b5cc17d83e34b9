import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2v.models.layers import ConditionalBatchNorm, ConditioningAugmentation, ca_kl
from keras_t2v.models.losses import bce_logits, matching_aware_d_loss
from keras_t2v.models.stackgan import set_generation_noise, stage1_discriminator, stage1_generator, stage2_discriminator, stage2_generator
from keras_t2v.models.stackgan_model import StackGANStageI, StackGANStageII

N = keras.ops.convert_to_numpy


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


def test_paper_parameter_counts_match_the_reference():
    """shared/specs/reference_architectures.md 1.4-1.5, with the original 1024-d char-CNN-RNN input."""
    assert trainable(stage1_generator(1024, 128, 100, 128, 64, "tf")) == 14_264_192  # "~= 14.26 M"
    assert trainable(stage1_generator(1024, 128, 100, 128, 64, "pytorch")) == 10_301_248  # "~= 10.30 M (CA 0.26 M)"
    assert trainable(stage1_discriminator(128, 128, 64, 64, "pytorch")) == 5_715_713  # "~= 5.72 M"
    ca = ConditioningAugmentation(128)
    ca.build((None, 1024))
    assert trainable(ca) == 262_400


@pytest.mark.parametrize("variant", ["tf", "pytorch"])
@pytest.mark.parametrize("size", [16, 32, 64])
def test_shapes(variant, size):
    g = stage1_generator(24, 8, 6, 4, size, variant)
    image, mu, log_sigma = g([np.zeros((2, 24), "float32"), np.zeros((2, 6), "float32")])
    assert image.shape == (2, size, size, 3) and mu.shape == log_sigma.shape == (2, 8)
    assert np.abs(N(image)).max() <= 1.0
    d = stage1_discriminator(24 if variant == "tf" else 8, 8, 4, size, variant)
    assert d([N(image), np.zeros((2, 24 if variant == "tf" else 8), "float32")]).shape == (2, 1)
    g2 = stage2_generator(24, 8, 4, 1, size, variant)
    high = g2([N(image), np.zeros((2, 24), "float32")])[0]
    assert high.shape == (2, 4 * size, 4 * size, 3)
    d2 = stage2_discriminator(24 if variant == "tf" else 8, 8, 4, 4 * size, variant)
    outputs = d2([N(high), np.zeros((2, 24 if variant == "tf" else 8), "float32")])
    if variant == "tf":
        assert outputs.shape == (2, 1)
    else:
        assert [o.shape for o in outputs] == [(2, 1), (2, 1)]  # conditional and unconditional heads


def test_stage2_shapes_at_paper_size_and_frozen_input():
    g2 = stage2_generator(512, 128, 128, 4, 64, "tf")
    assert g2.output_shape[0] == (None, 256, 256, 3)
    low = tf.Variable(np.zeros((1, 64, 64, 3), "float32"))
    with tf.GradientTape() as tape:
        out = g2([low, tf.zeros((1, 512))])[0]
    assert tape.gradient(out, low) is None  # Stage-I output enters with its gradient stopped


def test_ca_kl_matches_hand_computation():
    mu = np.array([[0.5, -0.2]], "float32")
    log_sigma = np.array([[0.1, -0.3]], "float32")
    expected = np.mean(-log_sigma + 0.5 * (-1 + np.exp(2 * log_sigma) + mu**2))
    assert float(N(ca_kl(mu, log_sigma))) == pytest.approx(expected, rel=1e-6)
    # The PyTorch form -0.5 * mean(1 + logvar - mu^2 - exp(logvar)) is the same quantity.
    logvar = 2 * log_sigma
    assert expected == pytest.approx(-0.5 * np.mean(1 + logvar - mu**2 - np.exp(logvar)), rel=1e-6)


@pytest.mark.parametrize("variant", ["tf", "pytorch"])
def test_ca_sampling(variant):
    ca = ConditioningAugmentation(4, variant, seed=3)
    embedding = np.random.default_rng(0).normal(size=(20000, 6)).astype("float32")
    c, mu, log_sigma = (N(t) for t in ca(embedding))
    eps = (c - mu) / np.exp(log_sigma)
    assert abs(eps.mean()) < 0.05
    if variant == "tf":  # truncated normal: |eps| <= 2 and std about 0.88
        assert np.abs(eps).max() <= 2.0 + 1e-5 and eps.std() == pytest.approx(0.88, abs=0.03)
    else:
        assert np.abs(eps).max() > 2.5 and eps.std() == pytest.approx(1.0, abs=0.03)
    assert (N(ca(embedding, sample=False)[0]) == mu).all()


def test_ca_generation_noise_scales_the_draw_only_when_generating():
    embedding = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    ca = ConditioningAugmentation(4, seed=3, generation_noise=0.5)
    ca.reseed(1)
    trained, mu, _ = (N(t) for t in ca(embedding, training=True))
    ca.reseed(1)
    generated = N(ca(embedding)[0])
    np.testing.assert_allclose(generated - mu, 0.5 * (trained - mu), rtol=1e-5, atol=1e-6)
    ca.generation_noise = 0.0
    np.testing.assert_array_equal(N(ca(embedding)[0]), mu)
    assert ConditioningAugmentation.from_config(ca.get_config()).generation_noise == 0.0


def test_ca_training_noise_scales_the_draw_only_when_training():
    embedding = np.random.default_rng(0).normal(size=(64, 6)).astype("float32")
    ca = ConditioningAugmentation(4, seed=3, training_noise=0.25)
    ca.reseed(1)
    generated, mu, _ = (N(t) for t in ca(embedding))
    ca.reseed(1)
    trained = N(ca(embedding, training=True)[0])
    np.testing.assert_allclose(trained - mu, 0.25 * (generated - mu), rtol=1e-5, atol=1e-6)
    ca.training_noise = 0.0
    np.testing.assert_array_equal(N(ca(embedding, training=True)[0]), mu)
    assert ConditioningAugmentation.from_config(ca.get_config()).training_noise == 0.0


def test_ca_reseed_repeats_the_draws_and_restore_continues_the_stream():
    ca = ConditioningAugmentation(4, seed=3)
    embedding = np.ones((2, 6), "float32")
    ca(embedding)
    before = ca.reseed(9)
    first = N(ca(embedding)[0])
    ca.reseed(9)
    np.testing.assert_array_equal(N(ca(embedding)[0]), first)
    ca.restore(before)
    continued = N(ca(embedding)[0])
    ca.restore(before)
    np.testing.assert_array_equal(N(ca(embedding)[0]), continued)
    assert not np.array_equal(continued, first)


def test_matching_aware_loss_weights():
    real, wrong, fake = np.array([[2.0]]), np.array([[0.5]]), np.array([[-1.0]])

    def bce(label, logit):
        p = 1 / (1 + np.exp(-logit))
        return -(label * np.log(p) + (1 - label) * np.log(1 - p))

    expected = bce(1, 2.0) + 0.5 * bce(0, 0.5) + 0.5 * bce(0, -1.0)
    assert float(N(matching_aware_d_loss(real, wrong, fake))) == pytest.approx(expected, rel=1e-5)
    assert float(N(bce_logits(1.0, fake))) == pytest.approx(bce(1, -1.0), rel=1e-5)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    return {"image": rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32"),
            "embedding": rng.normal(size=(8, 12)).astype("float32"),
            "wrong_image": rng.uniform(-1, 1, (8, 16, 16, 3)).astype("float32")}


@pytest.mark.parametrize("variant", ["tf", "pytorch"])
def test_one_train_step_moves_both_networks(variant):
    model = StackGANStageI(12, 8, 6, 4, 4, 16, variant, seed=0)
    model.compile()
    g0, d0 = [w.copy() for w in model.generator.get_weights()], [w.copy() for w in model.discriminator.get_weights()]
    logs = model.train_on_batch(_batch(), return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "kl", "d_real", "d_fake", "d_wrong"}
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.allclose(a, b) for a, b in zip(g0, model.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d0, model.discriminator.get_weights()))


def test_save_load_round_trip_with_both_optimizers(tmp_path):
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", seed=0)
    model.compile()
    model.fit(tf.data.Dataset.from_tensors(_batch()).repeat(3), epochs=1, verbose=0)
    model.save(tmp_path / "sg.keras")
    loaded = keras.models.load_model(tmp_path / "sg.keras", safe_mode=True)
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(N(a), N(b))
    for m in (model, loaded):  # the same CA noise stream in both
        m.generator.get_layer("ca").reseed(7)
    z = np.zeros((8, 6), "float32")
    np.testing.assert_array_equal(N(loaded.generate(_batch()["embedding"], z)), N(model.generate(_batch()["embedding"], z)))
    assert int(loaded.d_optimizer.iterations) == int(model.d_optimizer.iterations) == 3
    for a, b in zip(model.g_optimizer.variables, loaded.g_optimizer.variables):
        np.testing.assert_array_equal(N(a), N(b))


def test_both_stages_keep_their_ca_noise_scales_through_save_and_load(tmp_path):
    """A Stage-I trained on the mean code must still draw from it when its checkpoint is loaded or
    resumed, not with StackGAN's 1.0; a scale set after building is the one saved."""
    stage1 = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", generation_noise=0.0, training_noise=0.25, seed=0)
    stage2 = StackGANStageII(12, 8, 8, 4, 1, 8, "tf", training_noise=0.5, seed=0)
    set_generation_noise(stage2.generator, 0.75)
    for name, model, noises in (("sg1", stage1, (0.0, 0.25)), ("sg2", stage2, (0.75, 0.5))):
        model.compile()
        model.save(tmp_path / f"{name}.keras")
        ca = keras.models.load_model(tmp_path / f"{name}.keras", safe_mode=True).generator.get_layer("ca")
        assert (ca.generation_noise, ca.training_noise) == noises
    loaded = keras.models.load_model(tmp_path / "sg1.keras", safe_mode=True)
    embedding, z = _batch()["embedding"], np.zeros((8, 6), "float32")
    first = N(loaded.generate(embedding, z))
    loaded.generator.get_layer("ca").reseed(5)
    np.testing.assert_array_equal(N(loaded.generate(embedding, z)), first)


def _stage2_batch(seed=0):
    rng = np.random.default_rng(seed)
    return {"low_res": rng.uniform(-1, 1, (4, 8, 8, 3)).astype("float32"),
            "image": rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32"),
            "embedding": rng.normal(size=(4, 12)).astype("float32"),
            "wrong_image": rng.uniform(-1, 1, (4, 32, 32, 3)).astype("float32")}


@pytest.mark.parametrize("variant", ["tf", "pytorch"])
def test_stage2_train_step_moves_both_networks_and_round_trips(variant, tmp_path):
    model = StackGANStageII(12, 8, 8, 4, 1, 8, variant, seed=0)
    model.compile()
    g0, d0 = [w.copy() for w in model.generator.get_weights()], [w.copy() for w in model.discriminator.get_weights()]
    logs = model.train_on_batch(_stage2_batch(), return_dict=True)
    assert set(logs) == {"d_loss", "g_loss", "kl", "d_real", "d_fake", "d_wrong"}
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.allclose(a, b) for a, b in zip(g0, model.generator.get_weights()))
    assert any(not np.allclose(a, b) for a, b in zip(d0, model.discriminator.get_weights()))
    model.save(tmp_path / "sg2.keras")
    loaded = keras.models.load_model(tmp_path / "sg2.keras", safe_mode=True)
    for m in (model, loaded):
        m.generator.get_layer("ca").reseed(3)
    batch = _stage2_batch(1)
    out = N(loaded.generate(batch["low_res"], batch["embedding"]))
    assert out.shape == (4, 32, 32, 3)
    np.testing.assert_array_equal(out, N(model.generate(batch["low_res"], batch["embedding"])))


def test_stage2_pytorch_losses_follow_the_port():
    """D = (real + uncond_real) / 2 + (fake + wrong + uncond_fake) / 3, checked with frozen optimizers."""
    model = StackGANStageII(12, 8, 8, 4, 1, 8, "pytorch", seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    batch = _stage2_batch()
    model.generator.get_layer("ca").reseed(5)
    fake, mu, _ = (N(t) for t in model.generator([batch["low_res"], batch["embedding"]], training=True))
    d = lambda image: [N(t) for t in model.discriminator([image, mu], training=True)]  # noqa: E731
    (real, real_u), (wrong, _), (fk, fake_u) = d(batch["image"]), d(batch["wrong_image"]), d(fake)
    b = lambda target, logits: float(N(bce_logits(target, logits)))  # noqa: E731
    expected = (b(1, real) + b(1, real_u)) / 2 + (b(0, fk) + b(0, wrong) + b(0, fake_u)) / 3
    model.generator.get_layer("ca").reseed(5)
    assert model.train_on_batch(batch, return_dict=True)["d_loss"] == pytest.approx(expected, rel=1e-4)


def test_auxiliary_attribute_classifier_adds_its_terms_and_round_trips(tmp_path):
    """stackgan.attribute_weight: D classifies the frame attributes (shape, colour, size,
    background) of real frames; G is pushed towards its caption's."""
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=0.5, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    attributes = np.array([[0, 1, 0, 2, 1], [1, 2, 1, 3, 0], [2, 3, 0, 4, 2], [0, 5, 1, 5, 1]] * 2, "int32")
    logs = model.train_on_batch(_batch() | {"attributes": attributes}, return_dict=True)
    plain = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", seed=0)
    plain.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    plain.generator.set_weights(model.generator.get_weights())
    for layer in plain.discriminator.layers:  # the same D, without the attribute head
        layer.set_weights(model.discriminator.get_layer(layer.name).get_weights())
    base = plain.train_on_batch(_batch(), return_dict=True)
    assert logs["attribute_real"] > 0 and logs["attribute_fake"] > 0
    assert logs["d_loss"] == pytest.approx(base["d_loss"] + 0.5 * logs["attribute_real"], rel=1e-4)
    assert logs["g_loss"] == pytest.approx(base["g_loss"] + 0.5 * logs["attribute_fake"], rel=1e-4)
    assert model.discriminator.get_layer("attribute_logits").units == 3 + 6 + 2 + 3
    model.save(tmp_path / "aux.keras")
    assert keras.models.load_model(tmp_path / "aux.keras", safe_mode=True).attribute_weight == 0.5


def test_classify_fakes_adds_the_fakes_attribute_loss_to_d_only(tmp_path):
    """stackgan.classify_fakes (AC-GAN's form): D's classifier also learns the D step's fakes as
    their captions' attributes; G's loss is unchanged."""
    attributes = np.array([[0, 1, 0, 2, 1], [1, 2, 1, 3, 0], [2, 3, 0, 4, 2], [0, 5, 1, 5, 1]] * 2, "int32")
    batch = _batch() | {"attributes": attributes}
    models = [StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=0.5, classify_fakes=flag, seed=0) for flag in (False, True)]
    for model in models:
        model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
    plain, acgan = models
    acgan.set_weights(plain.get_weights())
    state = N(acgan.noise.state)
    z = N(acgan.sample_noise(8))  # the noise the D step will draw
    acgan.noise.state.assign(state)
    acgan.generator.get_layer("ca").reseed(5)
    fake = acgan.generator([batch["embedding"], z], training=True)[0]
    expected = acgan._attribute_loss(acgan.attribute_classifier()(fake, training=True), attributes)
    acgan.generator.get_layer("ca").reseed(5)
    plain.generator.get_layer("ca").reseed(5)
    with_fakes, without = acgan.train_on_batch(batch, return_dict=True), plain.train_on_batch(batch, return_dict=True)
    assert with_fakes["d_loss"] == pytest.approx(without["d_loss"] + 0.5 * float(N(expected)), rel=1e-4)
    assert with_fakes["g_loss"] == pytest.approx(without["g_loss"], rel=1e-5)
    acgan.save(tmp_path / "acgan.keras")
    assert keras.models.load_model(tmp_path / "acgan.keras", safe_mode=True).classify_fakes


def test_guide_is_a_frozen_copy_of_the_classifier_that_only_g_answers_to(tmp_path):
    """stackgan.guide_weight: after freeze_guide the guide equals D's trunk and attribute head;
    training moves D but not the guide; G pays guide_weight x the guide's CE on its fakes."""
    attributes = np.array([[0, 1, 0, 2, 1], [1, 2, 1, 3, 0], [2, 3, 0, 4, 2], [0, 5, 1, 5, 1]] * 2, "int32")
    batch = _batch() | {"attributes": attributes}
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=1.0, guide_weight=0.5, seed=0)
    model.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.0))
    images = _batch(1)["image"]
    assert not np.allclose(N(model.guide(images)), N(model.attribute_classifier()(images)))
    model.freeze_guide()
    before = N(model.guide(images))
    np.testing.assert_allclose(before, N(model.attribute_classifier()(images)), rtol=1e-5, atol=1e-6)
    assert not model.guide.trainable_weights
    twin = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=1.0, seed=0)  # the same G and D, no guide
    twin.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.0))
    twin.generator.set_weights(model.generator.get_weights())
    twin.discriminator.set_weights(model.discriminator.get_weights())
    logs, base = model.train_on_batch(batch, return_dict=True), twin.train_on_batch(batch, return_dict=True)
    assert logs["guide_fake"] > 0
    assert logs["g_loss"] == pytest.approx(base["g_loss"] + 0.5 * logs["guide_fake"], rel=1e-4)
    np.testing.assert_allclose(N(model.guide(images)), before, rtol=1e-6)
    assert not np.allclose(N(model.attribute_classifier()(images)), before)
    model.save(tmp_path / "guide.keras")
    loaded = keras.models.load_model(tmp_path / "guide.keras", safe_mode=True)
    np.testing.assert_allclose(N(loaded.guide(images)), before, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="needs attribute_weight"):
        StackGANStageI(12, 8, 6, 4, 4, 16, "tf", guide_weight=1.0)


def test_attribute_classifier_is_the_discriminators_trunk_and_auxiliary_head():
    """stackgan.d_pretrain_epochs trains this model; it must move D's own weights, none of G's and
    not D's text-matching head."""
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=1.0, seed=0)
    classifier = model.attribute_classifier()
    assert classifier.output_shape == (None, 3 + 6 + 2 + 3)
    d_weights = {id(w) for w in model.discriminator.trainable_weights}
    shared = {id(w) for w in classifier.trainable_weights}
    assert shared < d_weights and not shared & {id(w) for w in model.generator.trainable_weights}
    assert id(model.discriminator.get_layer("attribute_logits").kernel) in shared
    assert id(model.discriminator.get_layer("text_fc").kernel) not in shared
    with pytest.raises(ValueError, match="no attribute head"):
        StackGANStageI(12, 8, 6, 4, 4, 16, "tf", seed=0).attribute_classifier()


def test_motion_head_names_the_motion_after_the_frame_attributes(tmp_path):
    """stackgan.motion_head: D's attribute head (and the guide) gain the motion's 6 logits after the
    frame attributes' 14, and the attribute loss is the mean CE over those five slices."""
    attributes = np.array([[0, 1, 0, 2, 1], [1, 2, 1, 3, 0], [2, 3, 0, 4, 2], [0, 5, 1, 5, 1]] * 2, "int32")
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", attribute_weight=1.0, guide_weight=1.0, motion_head=True, seed=0)
    assert model.attribute_classifier().output_shape == model.guide.output_shape == (None, 3 + 6 + 2 + 3 + 6)
    logits = np.random.default_rng(0).normal(size=(8, 20)).astype("float32")
    slices = [(0, 3, 0), (3, 9, 1), (9, 11, 2), (11, 14, 4), (14, 20, 3)]  # (first, last logit, attribute column)
    by_hand = np.mean([np.mean(-N(keras.ops.log_softmax(logits[:, a:b]))[np.arange(8), attributes[:, c]]) for a, b, c in slices])
    assert float(N(model._attribute_loss(logits, attributes))) == pytest.approx(by_hand, rel=1e-5)
    model.compile(d_optimizer=keras.optimizers.SGD(0.01), g_optimizer=keras.optimizers.SGD(0.01))
    logs = model.train_on_batch(_batch() | {"attributes": attributes}, return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    model.save(tmp_path / "motion.keras")
    loaded = keras.models.load_model(tmp_path / "motion.keras", safe_mode=True)
    assert loaded.attribute_sizes == (3, 6, 2, 3, 6) and loaded.guide.output_shape == (None, 20)
    with pytest.raises(ValueError, match="needs attribute_weight"):
        StackGANStageI(12, 8, 6, 4, 4, 16, "tf", motion_head=True)


def test_conditional_batch_norm_matches_hand_computation():
    rng = np.random.default_rng(0)
    x, condition = rng.normal(2.0, 3.0, (6, 4, 4, 5)).astype("float32"), rng.normal(size=(6, 3)).astype("float32")
    layer = ConditionalBatchNorm()
    normed = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + 1e-5)
    np.testing.assert_allclose(N(layer([x, condition], training=True)), normed, atol=1e-4)  # starts as plain BN
    w_gamma, w_beta = rng.normal(size=(3, 5)).astype("float32"), rng.normal(size=(3, 5)).astype("float32")
    layer.gamma.set_weights([w_gamma, np.full(5, 0.5, "float32")])
    layer.beta.set_weights([w_beta, np.zeros(5, "float32")])
    gamma, beta = condition @ w_gamma + 0.5, condition @ w_beta
    expected = normed * (1 + gamma[:, None, None]) + beta[:, None, None]
    np.testing.assert_allclose(N(layer([x, condition], training=True)), expected, atol=1e-4)


def test_conditional_generator_and_projection_discriminator_train_and_round_trip(tmp_path):
    """stackgan.conditional_bn and stackgan.projection_d: the text code reaches every generator
    BatchNorm and D's logit through an inner product; both train and reload."""
    model = StackGANStageI(12, 8, 6, 4, 4, 16, "tf", conditional_bn=True, projection_d=True, seed=0)
    g_layers = [layer for layer in model.generator.layers if isinstance(layer, ConditionalBatchNorm)]
    assert len(g_layers) == 7  # every BN after the input FC at 16x16: 2 bottlenecks x 3 + 1 up-block
    assert model.discriminator.get_layer("projection") is not None
    model.compile()
    d0 = [w.copy() for w in model.discriminator.get_weights()]
    logs = model.train_on_batch(_batch(), return_dict=True)
    assert all(np.isfinite(v) for v in logs.values())
    assert any(not np.allclose(a, b) for a, b in zip(d0, model.discriminator.get_weights()))
    gamma = g_layers[0].gamma.get_weights()[0]
    assert np.abs(gamma).max() > 0  # the zero-initialised modulation learned from the condition
    model.save(tmp_path / "cond.keras")
    loaded = keras.models.load_model(tmp_path / "cond.keras", safe_mode=True)
    for m in (model, loaded):
        m.generator.get_layer("ca").reseed(7)
    z = np.zeros((8, 6), "float32")
    np.testing.assert_array_equal(N(loaded.generate(_batch()["embedding"], z)), N(model.generate(_batch()["embedding"], z)))


def test_mode_seeking_term_pushes_two_noises_images_apart_and_round_trips(tmp_path):
    """stackgan.mode_seeking_weight (MSGAN): G pays weight / (mean |G(t, z) - G(t, z')| / mean |z - z'|
    + 1e-5), with z' and G(t, z') the D step's noise and fakes; D's loss is unchanged."""
    batch = _batch()
    models = [StackGANStageI(12, 8, 6, 4, 4, 16, "tf", mode_seeking_weight=weight, seed=0) for weight in (0.0, 0.5)]
    for model in models:
        model.compile(d_optimizer=keras.optimizers.SGD(0.0), g_optimizer=keras.optimizers.SGD(0.0))
        model.generator.get_layer("ca").training_noise = 0.0  # G(t, z) depends on z alone
    plain, seeking = models
    seeking.set_weights(plain.get_weights())
    state = N(seeking.noise.state)
    d_z, g_z = N(seeking.sample_noise(8)), N(seeking.sample_noise(8))  # the D step's draw, then G's
    seeking.noise.state.assign(state)
    d_fake, g_fake = (N(seeking.generator([batch["embedding"], z], training=True)[0]) for z in (d_z, g_z))
    ratio = np.abs(g_fake - d_fake).mean() / np.abs(g_z - d_z).mean()
    logs, base = seeking.train_on_batch(batch, return_dict=True), plain.train_on_batch(batch, return_dict=True)
    assert logs["mode_seeking"] == pytest.approx(ratio, rel=1e-4)
    assert logs["g_loss"] == pytest.approx(base["g_loss"] + 0.5 / (ratio + 1e-5), rel=1e-4)
    assert logs["d_loss"] == pytest.approx(base["d_loss"], rel=1e-6)
    seeking.save(tmp_path / "msgan.keras")
    assert keras.models.load_model(tmp_path / "msgan.keras", safe_mode=True).mode_seeking_weight == 0.5
    with pytest.raises(ValueError, match="needs variant 'tf'"):
        StackGANStageI(12, 8, 6, 4, 4, 16, "pytorch", mode_seeking_weight=1.0)

import keras
import numpy as np
import pytest

from keras_t2v.text.vae import Sampling, TextVAE, kl_divergence, reconstruction_error

RNG = np.random.default_rng(0)
X = (RNG.normal(size=(48, 30)) * 0.3).astype("float32")


def test_kl_matches_hand_computation():
    mean = np.array([[0.5, -1.0], [0.0, 0.0]], "float32")
    log_var = np.array([[0.2, -0.4], [0.0, 0.0]], "float32")
    expected = [
        sum(-0.5 * (1 + lv - m**2 - np.exp(lv)) for m, lv in zip(mean[0], log_var[0])),
        0.0,
    ]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kl_divergence(mean, log_var)), expected, rtol=1e-5, atol=1e-7)


def test_reconstruction_matches_hand_computation():
    x = np.array([[0.2, -0.5, 0.9]], "float32")
    x_hat = np.array([[0.1, 0.3, 0.6]], "float32")
    mse = 3 * np.mean((x - x_hat) ** 2)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reconstruction_error(x, x_hat, "linear_mse")), [mse], rtol=1e-6)
    p = np.clip(x_hat, 1e-7, 1 - 1e-7)
    bce = 3 * np.mean(-(x * np.log(p) + (1 - x) * np.log(1 - p)))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(reconstruction_error(x, x_hat, "sigmoid_bce")), [bce], rtol=1e-5)


def test_shapes_and_evaluation_loss_is_the_sum():
    vae = TextVAE(30, 16, 4, seed=0)
    assert vae(X).shape == (48, 30)
    assert vae.encode(X).shape == (48, 4)
    z_mean, z_log_var = vae.encoder(X)
    assert z_mean.shape == z_log_var.shape == (48, 4)
    vae.compile(optimizer="rmsprop")
    logs = vae.evaluate(X, batch_size=48, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["reconstruction_loss"] + logs["kl_loss"], rel=1e-5)


@pytest.mark.parametrize("output", ["linear_mse", "sigmoid_bce"])
def test_training_lowers_the_loss(output):
    keras.utils.set_random_seed(0)
    vae = TextVAE(30, 32, 4, output=output, seed=0)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    before = vae.evaluate(X, verbose=0, return_dict=True)["loss"]
    weights = [w.copy() for w in vae.get_weights()]
    vae.fit(X, epochs=15, batch_size=16, verbose=0)
    after = vae.evaluate(X, verbose=0, return_dict=True)["loss"]
    assert np.isfinite(after) and after < before
    assert any(not np.allclose(a, b) for a, b in zip(weights, vae.get_weights()))


def test_save_load_round_trip_with_optimizer_state(tmp_path):
    vae = TextVAE(30, 16, 4, output="sigmoid_bce", seed=3)
    vae.compile(optimizer=keras.optimizers.RMSprop(1e-3))
    vae.fit(X, epochs=1, batch_size=16, verbose=0)
    vae.save(tmp_path / "vae.keras")
    loaded = keras.models.load_model(tmp_path / "vae.keras", safe_mode=True)
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), vae.predict(X, verbose=0))
    assert loaded.get_config()["output"] == "sigmoid_bce" and loaded.latent_dim == 4
    for a, b in zip(vae.optimizer.variables, loaded.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    vae.encoder.save(tmp_path / "encoder.keras")
    encoder = keras.models.load_model(tmp_path / "encoder.keras", safe_mode=True)
    # Same call on both sides: predict() in batches of 32 and one call on all 48 rows may round differently.
    loaded_mean = encoder.predict(X, verbose=0)[0]
    np.testing.assert_array_equal(loaded_mean, vae.encoder.predict(X, verbose=0)[0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(vae.encode(X)), loaded_mean, rtol=0, atol=1e-6)


def test_sampling_statistics_and_seed():
    mean = np.full((4000, 2), 1.5, "float32")
    log_var = np.full((4000, 2), np.log(4.0), "float32")
    z = keras.ops.convert_to_numpy(Sampling(seed=1)([mean, log_var]))
    assert z.mean() == pytest.approx(1.5, abs=0.1) and z.std() == pytest.approx(2.0, rel=0.05)
    again = keras.ops.convert_to_numpy(Sampling(seed=1)([mean, log_var]))
    np.testing.assert_array_equal(z, again)


def test_unknown_output():
    with pytest.raises(ValueError, match="unknown VAE output 'tanh'"):
        TextVAE(30, 16, 4, output="tanh")

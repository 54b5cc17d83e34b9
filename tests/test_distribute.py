"""tf.distribute: two logical CPUs train as one device; two workers on loopback end identical.

Logical devices must be configured before TensorFlow starts, so these checks run in fresh
processes."""

import json
import os
import socket
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_t2v.distribute import ReplicaSeedGenerator, replica_gradients
from keras_t2v.pipeline import TextToVideo  # noqa: F401  (registers every model class for loading)
from keras_t2v.text.joint_embedding import JointEmbedding  # noqa: F401

ENV = {**os.environ, "PYTHONPATH": os.getcwd(), "TF_CPP_MIN_LOG_LEVEL": "3"}

TWO_CPUS = textwrap.dedent('''
    import json, sys
    import numpy as np, tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import keras
    from keras_t2v.distribute import make_strategy
    from keras_t2v.models.stackgan_model import StackGANStageI
    from keras_t2v.models.vgan_model import VideoGAN
    from keras_t2v.text.joint_embedding import JointEmbedding

    rng = np.random.default_rng(0)
    mirrored = make_strategy("mirrored")

    def one_step(strategy, build, batch):
        with strategy.scope():
            keras.utils.set_random_seed(0)
            model = build()
        logs = model.fit(tf.data.Dataset.from_tensors(batch), epochs=1, verbose=0).history
        return {k: v[-1] for k, v in logs.items()}, model.get_weights()

    def compare(build, batch):
        (a, wa), (b, wb) = (one_step(s, build, batch) for s in (tf.distribute.get_strategy(), mirrored))
        return {"loss_diff": max(abs(a[k] - b[k]) for k in a), "weight_diff": max(float(np.abs(x - y).max()) for x, y in zip(wa, wb)),
                "moved": max(float(np.abs(x - y).max()) for x, y in zip(wa, build().get_weights()))}

    def vgan():
        m = VideoGAN("image", gf_dim=4, df_dim=4, image_size=16, frames=8, mask_l1=0.1, seed=0)
        m.compile(d_optimizer=keras.optimizers.SGD(0.1), g_optimizer=keras.optimizers.SGD(0.1))
        return m

    def joint():
        m = JointEmbedding(input_dim=40, vae_intermediate=8, latent_dim=4, hidden_dim=8, embed_dim=8, dropout=0.0,
                           frame_tower="cnn", image_size=16, cnn_filters=4, finetune_vae=True)
        m.compile(optimizer=keras.optimizers.SGD(0.1))
        return m

    out = {"replicas": mirrored.num_replicas_in_sync}
    out["vgan"] = compare(vgan, {"video": rng.uniform(-1, 1, (4, 8, 16, 16, 3)).astype("float32")})
    labels = np.array([1, 0, 1, 0], "float32")
    out["joint"] = compare(joint, ((rng.normal(size=(4, 40)).astype("float32"), rng.uniform(-1, 1, (4, 16, 16, 3)).astype("float32")), labels))

    with mirrored.scope():
        stackgan = StackGANStageI(embed_dim=6, c_dim=4, z_dim=3, gf_dim=8, df_dim=4, image_size=16, seed=0)
    noise = mirrored.run(tf.function(lambda: stackgan.sample_noise(2)))
    out["noise_differs"] = not np.allclose(*[t.numpy() for t in mirrored.experimental_local_results(noise)])

    from keras_t2v.train import main
    main(["--preset", "tiny", "--strategy", "mirrored", "--run-dir", sys.argv[1], "--set", "vgan.variant=text", "--no-evaluate"])
    out["cli_stages"] = sorted(p.parent.name for p in __import__("pathlib").Path(sys.argv[1]).glob("*/*.keras") if "checkpoints" not in str(p))
    print("RESULT " + json.dumps(out))
''')


def test_one_replica_is_plain_training():
    x = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(x * x)
    np.testing.assert_array_equal(replica_gradients(tape, loss, [x])[0].numpy(), [2.0, 4.0])
    a, b = ReplicaSeedGenerator(7), keras.random.SeedGenerator(7)
    for _ in range(2):
        np.testing.assert_array_equal(keras.random.normal((3,), seed=a), keras.random.normal((3,), seed=b))


def test_two_logical_cpus_train_like_one_device(tmp_path):
    done = subprocess.run([sys.executable, "-c", TWO_CPUS, str(tmp_path / "run")], capture_output=True, text=True, env=ENV, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, done.stderr[-3000:]
    out = json.loads(lines[0][len("RESULT "):])
    assert out["replicas"] == 2
    for model in ("vgan", "joint"):
        assert out[model]["moved"] > 1e-3, model  # the step did change the weights...
        assert out[model]["loss_diff"] < 1e-5 and out[model]["weight_diff"] < 1e-5, (model, out[model])  # ...identically
    assert out["noise_differs"]
    assert out["cli_stages"] == ["joint", "joint", "stackgan", "vae", "vae", "vgan"]  # every stage trains under --strategy mirrored


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_workers_on_loopback_end_with_identical_weights(tmp_path):
    """Every stage under MultiWorkerMirroredStrategy: the chief's run and worker 1's scratch run
    hold the same weights (the all-reduce kept them in step)."""
    ports = [_free_port(), _free_port()]
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "keras_t2v.train", "--preset", "tiny", "--strategy", "multiworker", "--run-dir", str(run_dir),
            "--set", "vae.epochs=2", "--set", "vgan.variant=text", "--no-evaluate"]
    workers = []
    for index in range(2):
        tf_config = {"cluster": {"worker": [f"localhost:{p}" for p in ports]}, "task": {"type": "worker", "index": index}}
        workers.append(subprocess.Popen(args, env={**ENV, "TF_CONFIG": json.dumps(tf_config)},
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    outputs = [w.communicate(timeout=600)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    assert "tf.distribute: multiworker, 2 replicas" in outputs[0] and "epoch 2/2" in outputs[0]
    for index, output in enumerate(outputs):  # the video stage's clips are rendered once, by the worker that trains on them
        assert f"vgan: input pipeline {index} of 2 renders clips {index}, {index + 2}, ..." in output
    for model in ("vae/vae.keras", "joint/joint.keras", "stackgan/stackgan.keras", "vgan/vgan.keras"):
        chief = keras.models.load_model(run_dir / model, safe_mode=True)
        other = keras.models.load_model(tmp_path / "run-worker1" / model, safe_mode=True)
        for a, b in zip(chief.get_weights(), other.get_weights()):
            np.testing.assert_array_equal(a, b, err_msg=model)
    assert int(chief.g_optimizer.iterations) > 0
    vae = keras.models.load_model(run_dir / "vae" / "vae.keras", safe_mode=True)
    assert int(vae.optimizer.iterations) == 24  # 2 epochs x 192 sentences / global batch 16

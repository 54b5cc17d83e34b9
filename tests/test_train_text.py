"""`python -m keras_t2v.train` for the text stages on the tiny preset, end to end."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_t2v.checkpoints import CheckpointManager, TrainingDiverged
from keras_t2v.config import ConfigError, apply_overrides, get_preset
from keras_t2v.runs import Run
from keras_t2v.text.joint_training import train_joint
from keras_t2v.text.training import train_vae, train_words
from keras_t2v.train import main


def _events(log_dir: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(log_dir), size_guidance={"tensors": 0, "scalars": 0})
    accumulator.Reload()
    return accumulator


def test_tiny_run_writes_models_reports_and_tensorboard(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["--preset", "tiny", "--stage", "words,vae", "--run-dir", str(run_dir), "--set", "vae.epochs=3"]) == 0
    printed = capsys.readouterr().out
    assert f"tensorboard --logdir {run_dir / 'logs'}" in printed and "[vae]" in printed
    for name in ("config.yaml", "words/vectors.bin", "vae/vae.keras", "vae/encoder.keras", "vae/report.json"):
        assert (run_dir / name).exists(), name
    report = json.loads((run_dir / "vae/report.json").read_text())
    assert set(report["latent_distances"]["by_attribute"]) == {"shape", "color", "size", "motion", "background"}

    train_events = _events(run_dir / "logs/vae/train")
    losses = [e.step for e in train_events.Tensors("epoch_loss")]
    assert losses == [0, 1, 2]
    assert len(_events(run_dir / "logs/vae/validation").Tensors("epoch_loss")) == 3
    text = _events(run_dir / "logs/vae/samples").Tensors("reconstructions")
    assert len(text) == 3 and b"| caption |" in text[0].tensor_proto.string_val[0]
    assert "vae_latent_metadata.tsv" in (run_dir / "logs/vae/projector_config.pbtxt").read_text()

    # Re-running skips finished stages; another config in the same directory is refused.
    assert main(["--preset", "tiny", "--stage", "words,vae", "--run-dir", str(run_dir), "--set", "vae.epochs=3"]) == 0
    assert "finished model found, skipped" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["--preset", "tiny", "--stage", "vae", "--run-dir", str(run_dir), "--set", "vae.epochs=4"])
    assert "vae.epochs: 3 -> 4" in capsys.readouterr().err
    # ...but how a run is trained (strategy, evaluation during training) is not part of its identity
    assert main(["--preset", "tiny", "--stage", "vae", "--run-dir", str(run_dir), "--set", "vae.epochs=3",
                 "--strategy", "mirrored", "--set", "train.eval_every=2"]) == 0
    with pytest.raises(SystemExit):
        main(["--preset", "tiny", "--stage", "vae,gan", "--run-dir", str(run_dir)])
    assert "unknown stage gan" in capsys.readouterr().err


def test_resume_with_more_epochs_trains_a_finished_stage_longer(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["--preset", "tiny", "--stage", "words,vae", "--run-dir", str(run_dir)]
    assert main([*args, "--set", "vae.epochs=2"]) == 0
    with pytest.raises(SystemExit):
        main([*args, "--set", "vae.epochs=3"])
    assert "raise its epochs with --resume" in capsys.readouterr().err

    assert main([*args, "--set", "vae.epochs=3", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert "[words] finished model found, skipped" in printed and "[vae] finished model found" not in printed
    assert CheckpointManager(run_dir / "vae/checkpoints").latest()[0] == 3
    assert [e.step for e in _events(run_dir / "logs/vae/train").Tensors("epoch_loss")] == [0, 1, 2]
    assert Run.load(run_dir).config.vae.epochs == 3
    # Fewer epochs, or more for a stage trained in one go (words), are another run, --resume or not.
    for other in ("vae.epochs=2", "words.epochs=9"):
        with pytest.raises(SystemExit):
            main([*args, "--set", other, "--resume"])
        assert "was made with another config" in capsys.readouterr().err


def test_encoder_reloads_and_encodes(tmp_path):
    run_dir = tmp_path / "run"
    main(["--preset", "tiny", "--stage", "words,vae", "--run-dir", str(run_dir), "--set", "vae.epochs=1"])
    encoder = keras.models.load_model(run_dir / "vae/encoder.keras", safe_mode=True)
    vae = keras.models.load_model(run_dir / "vae/vae.keras", safe_mode=True)
    x = np.zeros((2, 25 * get_preset("tiny").words.vector_size), "float32")
    np.testing.assert_allclose(encoder.predict(x, verbose=0)[0], keras.ops.convert_to_numpy(vae.encode(x)), atol=1e-6)


def test_kill_and_resume(tmp_path):
    run_dir = tmp_path / "run"
    args = ["--preset", "tiny", "--stage", "words,vae", "--run-dir", str(run_dir), "--set", "vae.epochs=150",
            "--set", "train.keep_checkpoints=2"]
    proc = subprocess.Popen([sys.executable, "-m", "keras_t2v.train", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.getcwd()})
    manager = CheckpointManager(run_dir / "vae/checkpoints")
    deadline = time.time() + 240
    while time.time() < deadline and (manager.latest() is None or manager.latest()[0] < 5):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = manager.latest()[0]
    assert 5 <= killed_at < 150 and not (run_dir / "vae/vae.keras").exists()
    with pytest.raises(RuntimeError, match="pass --resume to continue it or --force to start over"):
        main(args)
    assert main([*args, "--resume"]) == 0
    assert manager.latest()[0] == 150 and len(manager.complete()) == 2
    assert (run_dir / "vae/vae.keras").exists()
    steps = [e.step for e in _events(run_dir / "logs/vae/train").Tensors("epoch_loss")]
    assert steps[-1] == 149  # the resumed run continued the epoch count


def test_nan_loss_stops_the_stage_with_a_clear_message(tmp_path):
    config = get_preset("tiny")
    config.vae.learning_rate = 1e30  # diverges within the first epoch
    run = Run.open(tmp_path / "run", config)
    train_words(run)
    with pytest.raises(TrainingDiverged, match=r"vae: loss=(nan|inf) at epoch 1, batch \d+.*last checkpoint on disk: none"):
        train_vae(run)
    assert not (run.root / "vae/vae.keras").exists()
    assert CheckpointManager(run.root / "vae/checkpoints").latest() is None


def test_hard_negatives_with_infonce_are_refused_before_any_work(tmp_path):
    config = apply_overrides(get_preset("tiny"), ["joint.loss=infonce", "joint.hard_negatives=true"])
    run = Run.open(tmp_path / "run", config)
    with pytest.raises(ValueError, match="joint.hard_negatives .* joint.loss=infonce"):
        train_joint(run)
    assert not (tmp_path / "run" / "joint").exists()


def test_joint_stage_with_clip_frames_trains_on_stacked_frames(tmp_path):
    """joint.clip_frames = K: the stage caches K evenly spaced frames per clip, stacked on channels,
    and its frame tower, retrieval and probes read them."""
    run_dir = tmp_path / "run"
    assert main(["--preset", "tiny", "--stage", "words,joint", "--run-dir", str(run_dir), "--set", "joint.clip_frames=4"]) == 0
    size = get_preset("tiny").data.image_size
    joint = keras.models.load_model(run_dir / "joint/joint.keras", safe_mode=True)
    assert joint.frame_tower.input_shape == (None, size, size, 12)
    cached = sorted((run_dir / "cache").glob("keyframes-train-*.npz"))
    assert len(cached) == 1 and np.load(cached[0])["frames"].shape[1:] == (1, size, size, 12)
    report = json.loads((run_dir / "joint/report.json").read_text())
    assert set(report["probe_frame_code"]) == {"shape", "color", "size", "motion", "background"}
    assert 0 <= report["retrieval_val"]["caption_to_frame_R@5"] <= 1


def test_joint_stage_with_an_attribute_head_trains_it_beside_infonce(tmp_path):
    """joint.attribute_weight: the stage feeds the clips' attributes to the head; the text encoder
    the GANs read stays without it; the contrastive loss is refused."""
    run_dir = tmp_path / "run"
    common = ["--preset", "tiny", "--stage", "words,joint", "--set", "joint.attribute_weight=1.0"]
    with pytest.raises(ConfigError, match="joint.attribute_weight .* joint.loss=infonce"):
        main([*common, "--run-dir", str(tmp_path / "refused"), "--set", "joint.loss=contrastive"])
    assert main([*common, "--run-dir", str(run_dir), "--set", "joint.loss=infonce"]) == 0
    assert json.loads((run_dir / "joint/report.json").read_text())["final"]["attribute_loss"] > 0
    encoder = keras.models.load_model(run_dir / "joint/text_encoder.keras", safe_mode=True)
    assert "text_attributes" not in [layer.name for layer in encoder.layers]

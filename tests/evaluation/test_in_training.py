import json

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_t2v.evaluation.in_training import collapse_warnings
from keras_t2v.train import main as train


def test_collapse_warnings_name_each_signal():
    assert collapse_warnings({"d_real": 0.7, "d_fake": 0.3}, recall=0.5, distinct=12.0) == []
    found = collapse_warnings({"d_real": 0.999, "d_fake": 0.001}, recall=0.0, distinct=0.1)
    assert [f.split(" ")[0] for f in found] == ["the", "recall", "two"]
    assert "pinned" in found[0] and "same output" in found[2]


def test_gan_stages_score_every_epoch_and_keep_the_best(tmp_path):
    run_dir = tmp_path / "run"
    assert train(["--preset", "tiny", "--run-dir", str(run_dir), "--set", "vgan.variant=text", "--set", "train.eval_every=1",
                  "--set", "train.eval_n=16", "--set", f"train.evaluator_dir={tmp_path / 'evaluator'}",
                  "--set", "stackgan.epochs=2", "--set", "vgan.epochs=2", "--no-evaluate"]) == 0
    assert (tmp_path / "evaluator" / "video_evaluator.keras").exists()  # trained once, on first use
    for stage, tags in (("stackgan", ["eval_all", "eval_color"]), ("vgan", ["eval_all", "eval_motion", "eval_kid_self"])):
        events = EventAccumulator(str(run_dir / "logs" / stage / "train"), size_guidance={"tensors": 0})
        events.Reload()
        for tag in tags:
            points = events.Tensors(f"epoch_{tag}")
            assert [p.step for p in points] == [0, 1], (stage, tag)
            values = [float(tf.make_ndarray(p.tensor_proto)) for p in points]
            assert all(np.isfinite(values)) and (tag == "eval_kid_self" or all(0 <= v <= 1 for v in values)), (stage, tag, values)
        best = json.loads((run_dir / stage / "checkpoints" / "best.json").read_text())
        assert best["monitor"] == "eval_all" and best["epoch"] in (1, 2) and 0.0 <= best["value"] <= 1.0

"""All stages on the tiny preset, then TextToVideo and `python -m keras_t2v.generate`."""

import json
import shutil

import imageio.v2 as imageio
import keras
import numpy as np
import pytest
from gensim.models import KeyedVectors
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from keras_t2v.export import to_uint8
from keras_t2v.generate import main as generate
from keras_t2v.models.stackgan_training import text_codes
from keras_t2v.models.vgan_training import stackgan_first_frames
from keras_t2v.pipeline import TextToVideo
from keras_t2v.runs import Run
from keras_t2v.train import main as train

N = keras.ops.convert_to_numpy

PROMPT = "a big blue box bounces up and down on a gray background"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs") / "tiny"
    assert train(["--preset", "tiny", "--run-dir", str(root), "--set", "vgan.variant=text",
                  "--set", "vgan.ema_decay=0.9", "--set", "vgan.stackgan_first_frames=0.5", "--set", "stackgan.stage2=true",
                  "--set", "stackgan.epochs=2", "--set", "stackgan.stage2_epochs=2", "--set", "vgan.epochs=2", "--no-evaluate"]) == 0
    return root


def test_gan_stages_log_samples_every_epoch(run_dir):
    for stage, tags in (("stackgan", ["samples"]), ("stackgan2", ["samples"]), ("vgan", ["video", "mask", "background", "real"])):
        events = EventAccumulator(str(run_dir / "logs" / stage / "samples"), size_guidance={"tensors": 0})
        events.Reload()
        for tag in tags:
            assert [e.step for e in events.Tensors(tag)] == [0, 1], (stage, tag)
        scalars = EventAccumulator(str(run_dir / "logs" / stage / "train"), size_guidance={"tensors": 0})
        scalars.Reload()
        assert len(scalars.Tensors("epoch_d_loss")) == 2 and len(scalars.Tensors("epoch_g_loss")) == 2
    assert (run_dir / "stackgan" / "samples.png").exists() and (run_dir / "stackgan2" / "samples.png").exists()
    assert len(list((run_dir / "vgan" / "samples").glob("epoch002_clip*.gif"))) == 6
    timings = json.loads((run_dir / "timings.json").read_text())  # what a model card reports as training time
    assert set(timings["seconds"]) == {"words", "vae", "joint", "stackgan", "stackgan2", "vgan"} and "cores" in timings["machine"]


def test_joint_report_has_retrieval_and_attribute_probes(run_dir):
    report = json.loads((run_dir / "joint" / "report.json").read_text())
    assert report["retrieval_val"]["candidates"] == 16  # the tiny val split holds 16 clips
    for code in ("probe_text_code", "probe_frame_code"):
        assert set(report[code]) == {"shape", "color", "size", "motion", "background"}, code
        assert all(0.0 <= v <= 1.0 for v in report[code].values()), code


def test_text_to_video(run_dir):
    pipe = TextToVideo.from_pretrained(run_dir)
    out = pipe([PROMPT, "the tiny green disk is sliding to the right over stripes"], seed=3, num_samples=2)
    assert out.frames.shape == (4, 8, 16, 16, 3) and out.frames.dtype == np.uint8
    assert out.first_frames.shape == (4, 16, 16, 3) and out.backgrounds.shape == (4, 16, 16, 3)
    assert out.stage2_frames.shape == (4, 64, 64, 3)  # stackgan.stage2: Stage-II refines the Stage-I frame
    assert out.masks.shape == (4, 8, 16, 16, 1) and 0 <= out.masks.min() and out.masks.max() <= 1
    assert out.prompts[1] == PROMPT and out.prompts[2] != PROMPT
    again = pipe([PROMPT, "the tiny green disk is sliding to the right over stripes"], seed=3, num_samples=2)
    np.testing.assert_array_equal(out.frames, again.frames)  # the seed fixes everything
    other = pipe(PROMPT, seed=4)
    assert not np.array_equal(other.frames[0], out.frames[0])
    assert pipe(PROMPT, num_frames=5).frames.shape[1] == 5
    vgan = keras.models.load_model(run_dir / "vgan" / "vgan.keras", safe_mode=True)
    for used, averaged in zip(pipe.video_generator.get_weights(), vgan.ema_generator.get_weights()):
        np.testing.assert_array_equal(used, averaged)  # vgan.ema_decay: sampling uses the averaged generator


def test_save_pretrained_round_trip(run_dir, tmp_path):
    """save_pretrained keeps the generators only (smaller than the run's models) and the word
    vectors compacted, and what it writes loads back to the same videos; a model card beside it
    survives a second save, and a user's .vec vectors are kept as they are."""
    pipe = TextToVideo.from_pretrained(run_dir)
    saved = pipe.save_pretrained(tmp_path / "model")
    assert sorted(p.name for p in saved.iterdir()) == ["config.yaml", "image_generator.keras", "refiner.keras", "text_encoder.keras",
                                                       "vectors.bin.gz", "video_generator.keras"]
    run_bytes = sum((run_dir / p).stat().st_size for p in ("stackgan/stackgan.keras", "vgan/vgan.keras", "stackgan2/stackgan2.keras"))
    saved_bytes = sum((saved / p).stat().st_size for p in ("image_generator.keras", "video_generator.keras", "refiner.keras"))
    assert saved_bytes < run_bytes / 2  # no discriminators, optimizer states or second (EMA) generator
    loaded = TextToVideo.from_pretrained(saved)
    a, b = pipe([PROMPT], seed=5), loaded([PROMPT], seed=5)
    for field in ("frames", "first_frames", "stage2_frames", "backgrounds"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    (saved / "MODEL_CARD.md").write_text("card")
    loaded.save_pretrained(saved)
    assert (saved / "MODEL_CARD.md").read_text() == "card" and not saved.with_name("model.tmp").exists()
    vec = tmp_path / "words.vec"
    KeyedVectors.save_word2vec_format(loaded.encoder.vectors, str(vec), binary=False)
    with_vec = TextToVideo(loaded.config, vec, loaded.text_encoder, loaded.image_generator, loaded.video_generator)
    resaved = with_vec.save_pretrained(tmp_path / "model-vec")
    assert sorted(p.name for p in resaved.glob("vectors.*")) == ["vectors.vec"]
    np.testing.assert_allclose(TextToVideo.from_pretrained(resaved).codes([PROMPT]), loaded.codes([PROMPT]), atol=1e-4)


def test_generation_noise_comes_from_the_run_config_and_is_saved(run_dir, tmp_path):
    """stackgan.generation_noise = 0: Stage-I draws its mean code, so its frame depends on z alone."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = (copy / "config.yaml").read_text()
    assert config.count("generation_noise: 1.0") == 1
    (copy / "config.yaml").write_text(config.replace("generation_noise: 1.0", "generation_noise: 0.0"))

    def two_draws(pipe):
        inputs = [pipe.codes([PROMPT]), np.zeros((1, pipe.image_generator.inputs[1].shape[-1]), "float32")]
        return [N(pipe.image_generator(inputs)[0]) for _ in range(2)]

    for pipe in (TextToVideo.from_pretrained(copy), TextToVideo.from_pretrained(TextToVideo.from_pretrained(copy).save_pretrained(tmp_path / "m"))):
        np.testing.assert_array_equal(*two_draws(pipe))
        assert pipe.refiner.get_layer("ca").generation_noise == 0.0
    assert not np.array_equal(*two_draws(TextToVideo.from_pretrained(run_dir)))
    # The video stage's StackGAN first frames draw the noise Stage-I trained with (stackgan.training_noise), not this one.
    codes, _ = text_codes(Run.load(run_dir), "val")
    sampled = stackgan_first_frames(Run.load(run_dir), codes)
    np.testing.assert_array_equal(stackgan_first_frames(Run.load(copy), codes), sampled)
    assert config.count("training_noise: 1.0") == 1
    (copy / "config.yaml").write_text(config.replace("training_noise: 1.0", "training_noise: 0.0"))
    assert not np.array_equal(stackgan_first_frames(Run.load(copy), codes), sampled)


def test_generation_z_scale_multiplies_the_z_stage1_draws_when_generating(run_dir, tmp_path):
    """stackgan.generation_z_scale: 0 at the mean code makes Stage-I's frame the same for every seed;
    2 gives the frame of twice the seed's z."""
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = (copy / "config.yaml").read_text()
    assert config.count("generation_z_scale: 1.0") == 1 and config.count("generation_noise: 1.0") == 1
    config = config.replace("generation_noise: 1.0", "generation_noise: 0.0")
    (copy / "config.yaml").write_text(config.replace("generation_z_scale: 1.0", "generation_z_scale: 0.0"))
    pipe = TextToVideo.from_pretrained(copy)
    np.testing.assert_array_equal(pipe(PROMPT, seed=3).first_frames, pipe(PROMPT, seed=4).first_frames)
    (copy / "config.yaml").write_text(config.replace("generation_z_scale: 1.0", "generation_z_scale: 2.0"))
    pipe = TextToVideo.from_pretrained(copy)
    z = 2.0 * np.random.default_rng(3).normal(size=(1, pipe.image_generator.inputs[1].shape[-1]))
    expected = to_uint8(N(pipe.image_generator([pipe.codes([PROMPT]), z.astype("float32")])[0]))
    np.testing.assert_array_equal(pipe(PROMPT, seed=3).first_frames, expected)
    (copy / "config.yaml").write_text(config)
    assert not np.array_equal(TextToVideo.from_pretrained(copy)(PROMPT, seed=3).first_frames, expected)


@pytest.mark.parametrize("prompt,message", [("", "has no words"), ("?!", "has no words")])
def test_bad_prompts(run_dir, prompt, message):
    pipe = TextToVideo.from_pretrained(run_dir)
    with pytest.raises(ValueError, match=message):
        pipe(prompt)
    with pytest.raises(ValueError, match="num_frames must be between 1 and 8"):
        pipe(PROMPT, num_frames=9)


def test_long_prompt_is_truncated_with_a_warning(run_dir):
    with pytest.warns(UserWarning, match="truncated to its first 25"):
        TextToVideo.from_pretrained(run_dir)(" ".join(["red"] * 40))


def test_generate_cli_writes_gif_mp4_and_strip(run_dir, tmp_path, capsys):
    out = tmp_path / "a.gif"
    assert generate([PROMPT, "--run-dir", str(run_dir), "--out", str(out), "--mp4", "--strip", "--fps", "4", "--intermediates"]) == 0
    gif = imageio.mimread(out)
    assert len(gif) == 8 and gif[0].shape[:2] == (16, 16)
    mp4 = [frame for frame in imageio.get_reader(out.with_suffix(".mp4"), format="FFMPEG")]
    assert len(mp4) == 8 and mp4[0].shape == (16, 16, 3)
    assert imageio.imread(out.with_suffix(".png")).shape[0] == 16
    shapes = {name: imageio.imread(out.with_suffix(f".{name}.png")).shape for name in ("stage1", "stage2", "mask", "background")}
    assert shapes == {"stage1": (16, 16, 3), "stage2": (64, 64, 3), "mask": (16, 8 * 16 + 7, 3), "background": (16, 16, 3)}
    assert "a.gif" in capsys.readouterr().out


def test_generate_cli_errors(run_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        generate(["...", "--run-dir", str(run_dir), "--out", str(tmp_path / "x.gif")])
    assert exit_info.value.code == 2 and "has no words" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        generate([PROMPT, "--run-dir", str(tmp_path / "nowhere")])
    assert "config.yaml" in capsys.readouterr().err


def test_evaluate_writes_the_report(run_dir, tmp_path):
    from keras_t2v.evaluate import evaluate

    metrics = evaluate(str(run_dir), n=32, evaluator_dir=str(tmp_path / "evaluator"), evaluator_epochs=1)
    report = run_dir / "report"
    assert (report / "metrics.json").exists() and (report / "samples" / "strip.png").exists()
    assert len(list((report / "samples").glob("sample_*.gif"))) == 4
    text = (report / "README.md").read_text()
    assert "attribute accuracy: all" in text and "FD-self" in text and "Joint embedding retrieval" in text
    for split in ("test", "test_unseen"):
        m = metrics["splits"][split]
        assert m["chance"]["motion"] == pytest.approx(1 / 6)
        assert m["motion_rule_on_real"] >= 0.9  # the rule itself works on real tiny clips
        assert m["content_drift_real"] < 3.0  # real objects keep their colour (a few core pixels at 16x16)
        assert 0.0 <= m["attribute_accuracy"]["all"] <= 1.0 and 0.0 <= m["precision_k3"] <= 1.0
    assert json.loads((report / "metrics.json").read_text())["protocol"]["n"] == 32
    curves = imageio.imread(report / "curves.png")  # one row of panels per trained stage
    assert curves.shape[0] >= 4 * 3 * 80 and "![](curves.png)" in text


def test_evaluate_stage1_scores_stackgan_frames(run_dir, tmp_path, capsys):
    from keras_t2v.evaluate import main as evaluate_main

    assert evaluate_main(["--run-dir", str(run_dir), "--stage", "stackgan", "--n", "16",
                          "--evaluator-dir", str(tmp_path / "evaluator"), "--evaluator-epochs", "1"]) == 0
    metrics = json.loads((run_dir / "report" / "stage1.json").read_text())
    for split in ("test", "test_unseen"):
        accuracy = metrics["splits"][split]["stage1_frame_accuracy"]
        assert set(accuracy) == {"shape", "color", "size", "background", "all"}
        assert all(0.0 <= v <= 1.0 for v in accuracy.values())
        assert metrics["splits"][split]["chance"]["color"] == pytest.approx(1 / 6)
        shapes = metrics["splits"][split]["confusion"]["shape"]  # asked -> judged -> count
        assert list(shapes) == ["circle", "square", "triangle"] and list(shapes["circle"]) == list(shapes)
        assert sum(sum(row.values()) for row in shapes.values()) == 16
        right = sum(shapes[value][value] for value in shapes) / 16
        assert right == pytest.approx(accuracy["shape"])
    assert "test_unseen: shape" in capsys.readouterr().out


def test_a_saved_model_scores_what_its_run_scores(run_dir, tmp_path, capsys):
    """How the shipped model's README numbers are reproduced without training: evaluate its directory."""
    from keras_t2v.evaluate import evaluate
    from keras_t2v.evaluate import main as evaluate_main

    saved = TextToVideo.from_pretrained(run_dir).save_pretrained(tmp_path / "saved")
    evaluator, report = str(tmp_path / "evaluator"), tmp_path / "report"
    of_run = evaluate(str(run_dir), n=16, evaluator_dir=evaluator, evaluator_epochs=1, report_dir=str(tmp_path / "run_report"))
    assert evaluate_main(["--run-dir", str(saved), "--n", "16", "--evaluator-dir", evaluator, "--out", str(report)]) == 0
    of_saved = json.loads((report / "metrics.json").read_text())
    for split in ("test", "test_unseen"):
        assert of_saved["splits"][split]["attribute_accuracy"] == of_run["splits"][split]["attribute_accuracy"]
        assert of_saved["splits"][split]["kid_self"] == pytest.approx(of_run["splits"][split]["kid_self"], rel=1e-4)
    text = (report / "README.md").read_text()
    assert "(preset tiny with " in text and "curves.png" not in text and not (report / "curves.png").exists()
    assert not (saved / "report").exists() and len(list((report / "samples").glob("sample_*.gif"))) == 4
    with pytest.raises(SystemExit) as exit_info:
        evaluate_main(["--run-dir", str(saved), "--stage", "stackgan"])
    assert exit_info.value.code == 2 and "has no trained stackgan stage" in capsys.readouterr().err


def test_curves_are_read_back_from_tensorboard(run_dir):
    from keras_t2v.evaluation.curves import read_curves

    vgan = read_curves(run_dir / "logs" / "vgan")
    np.testing.assert_array_equal(vgan["train/d_loss"][0], [1, 2])  # two epochs, one point each
    assert np.isfinite(vgan["train/g_loss"][1]).all()
    assert "validation/loss" in read_curves(run_dir / "logs" / "vae")


def test_gans_on_one_hot_attribute_codes(tmp_path):
    """joint.gan_code=attributes: the text side's upper bound, the prompt parsed into its attributes."""
    root = tmp_path / "attr"
    assert train(["--preset", "tiny", "--run-dir", str(root), "--set", "vgan.variant=text", "--set", "joint.gan_code=attributes",
                  "--stage", "words,stackgan,vgan", "--no-evaluate"]) == 0
    assert not (root / "joint").exists()  # the GANs do not need the joint embedding
    pipe = TextToVideo.from_pretrained(root)
    # offsets 0, 3, 9, 11, 17 + (square 1, blue 4, large 1, up and down 5, gray 1)
    np.testing.assert_array_equal(pipe.codes([PROMPT])[0].nonzero()[0], [1, 7, 10, 16, 18])
    assert pipe(PROMPT, seed=0).frames.shape == (1, 8, 16, 16, 3)
    with pytest.raises(ValueError, match="reads the five attributes from the prompt.*motion"):
        pipe("a big blue box on a gray background")


def test_model_card_limitations_name_an_attribute_at_chance_on_either_split():
    from keras_t2v.ship import limitation_lines

    chance = {"shape": 1 / 3, "color": 1 / 6, "size": 0.5, "motion": 1 / 6, "background": 1 / 3}
    seen = {"shape": 0.391, "color": 0.85, "size": 0.76, "motion": 0.93, "background": 0.88}
    unseen = dict(seen, shape=0.314)  # shape 6 points above chance on seen captions, at chance on unseen ones
    splits = {"test": {"attribute_accuracy": seen, "chance": chance}, "test_unseen": {"attribute_accuracy": unseen, "chance": chance}}
    (line,) = limitation_lines({"splits": splits})
    assert "chance for shape:" in line
    splits["test_unseen"]["attribute_accuracy"] = seen
    assert limitation_lines({"splits": splits}) == []


def test_ship_packs_the_model_with_its_card(run_dir, tmp_path, capsys):
    from keras_t2v.evaluate import evaluate
    from keras_t2v.ship import main as ship

    evaluate(str(run_dir), n=16, evaluator_dir=str(tmp_path / "evaluator"), evaluator_epochs=1)
    out, gallery = tmp_path / "pretrained", tmp_path / "gallery"
    with pytest.raises(SystemExit) as exit_info:
        ship(["--run-dir", str(run_dir), "--out", str(out), "--max-mb", "0.01"])
    assert exit_info.value.code == 2 and "over --max-mb 0.01" in capsys.readouterr().err and not out.exists()
    assert ship(["--run-dir", str(run_dir), "--out", str(out), "--gallery", str(gallery)]) == 0
    card = (out / "MODEL_CARD.md").read_text()
    assert "preset `tiny`" in card and "all five attributes on test_unseen" in card and "| vgan |" in card
    assert "| total |" in card and "| test_unseen |" in card
    assert len(list(gallery.glob("*.gif"))) == 4
    frames = TextToVideo.from_pretrained(out)(PROMPT, seed=0).frames
    np.testing.assert_array_equal(frames, TextToVideo.from_pretrained(run_dir)(PROMPT, seed=0).frames)


def test_mode_seeking_needs_the_tf_variant_and_is_refused_before_training(tmp_path):
    """stackgan.mode_seeking_weight compares G's fakes with the D step's, which only the TF
    variant draws from another z."""
    from keras_t2v.config import ConfigError

    with pytest.raises(ConfigError, match='stackgan.mode_seeking_weight .* set stackgan.variant = "tf"'):
        train(["--preset", "tiny", "--run-dir", str(tmp_path / "refused"), "--stage", "stackgan", "--no-evaluate",
               "--set", "stackgan.variant=pytorch", "--set", "stackgan.mode_seeking_weight=1.0"])
    assert not (tmp_path / "refused" / "stackgan" / "stackgan.keras").exists()


def test_stackgan_discriminator_pretrained_as_an_attribute_classifier(tmp_path):
    """stackgan.d_pretrain_epochs: D's trunk and attribute head learn real frames' attributes
    before the GAN; the losses, val accuracies and a TensorBoard curve are kept. With
    stackgan.guide_weight, G also answers to a frozen copy of that classifier, and with
    vgan.frame_guide_weight so does the video generator, frame by frame, on the frame attributes
    alone when stackgan.motion_head has the classifier name the motion too."""
    from keras_t2v.checkpoints import CheckpointManager
    from keras_t2v.config import ConfigError
    from keras_t2v.evaluation.curves import read_curves

    common = ["--preset", "tiny", "--set", "joint.gan_code=attributes", "--set", "stackgan.d_pretrain_epochs=4", "--no-evaluate"]
    with pytest.raises(ConfigError, match="set stackgan.attribute_weight > 0"):
        train([*common, "--run-dir", str(tmp_path / "refused"), "--stage", "stackgan"])
    with pytest.raises(ConfigError, match="set stackgan.d_pretrain_epochs > 0"):
        train(["--preset", "tiny", "--run-dir", str(tmp_path / "refused_guide"), "--stage", "stackgan",
               "--set", "stackgan.attribute_weight=1.0", "--set", "stackgan.guide_weight=1.0"])
    root = tmp_path / "pretrained_d"
    guided = [*common, "--run-dir", str(root), "--set", "stackgan.attribute_weight=1.0", "--set", "stackgan.guide_weight=1.0",
              "--set", "stackgan.motion_head=true", "--set", "vgan.variant=text", "--set", "vgan.frame_guide_weight=1.0"]
    assert train([*guided, "--stage", "words,stackgan,vgan", "--set", "vgan.epochs=1"]) == 0
    assert json.loads((root / "stackgan" / "report.json").read_text())["final"]["guide_fake"] > 0
    assert json.loads((root / "vgan" / "report.json").read_text())["final"]["guide_fake"] > 0
    # the judge is not saved with the video GAN: resuming from its checkpoint hands it in again
    assert train([*guided, "--stage", "vgan", "--set", "vgan.epochs=2", "--resume"]) == 0
    assert CheckpointManager(root / "vgan" / "checkpoints").latest()[0] == 2
    assert json.loads((root / "vgan" / "report.json").read_text())["final"]["guide_fake"] > 0
    pretrain = json.loads((root / "stackgan" / "d_pretrain.json").read_text())
    assert len(pretrain["loss"]) == 4 and pretrain["loss"][-1] < pretrain["loss"][0]
    assert set(pretrain["val_accuracy"]) == {"shape", "color", "size", "background", "motion"}
    assert all(0.0 <= v <= 1.0 for v in pretrain["val_accuracy"].values())
    epochs, losses = read_curves(root / "logs" / "stackgan" / "d_pretrain")["train/loss"]
    np.testing.assert_array_equal(epochs, [1, 2, 3, 4])
    np.testing.assert_allclose(losses, pretrain["loss"], rtol=1e-5)

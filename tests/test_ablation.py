import json

import pytest

from keras_t2v.ablation import MARKERS, VARIANTS, first_changed_stage, main
from keras_t2v.config import apply_overrides, get_preset
from keras_t2v.train import main as train


@pytest.mark.parametrize("variant,stage", [("faithful", None), ("text", "vgan"), ("text_one_stream", "vgan"),
                                           ("text_action_words", "vae"), ("text_onehot", "stackgan"), ("text_aux", "stackgan")])
def test_each_variant_retrains_from_the_first_stage_it_changes(variant, stage):
    base = get_preset("baseline")
    assert first_changed_stage(base, apply_overrides(get_preset("baseline"), VARIANTS[variant][1])) == stage


@pytest.mark.slow
def test_ablation_trains_evaluates_and_writes_the_table(tmp_path):
    base = tmp_path / "base"
    assert train(["--preset", "tiny", "--run-dir", str(base), "--no-evaluate"]) == 0
    readme = tmp_path / "README.md"
    readme.write_text(f"# results\n{MARKERS[0]}\nold table\n{MARKERS[1]}\nafter\n")
    args = ["--base", str(base), "--out", str(tmp_path / "ablation"), "--variants", "faithful,text_onehot", "--n", "16",
            "--evaluator-dir", str(tmp_path / "evaluator"), "--readme", str(readme)]
    assert main(args) == 0
    onehot = tmp_path / "ablation" / "text_onehot"
    # words, vae and joint are the base's (copied); StackGAN and VGAN were trained for the variant
    assert (onehot / "vae" / "vae.keras").read_bytes() == (base / "vae" / "vae.keras").read_bytes()
    assert (onehot / "stackgan" / "stackgan.keras").read_bytes() != (base / "stackgan" / "stackgan.keras").read_bytes()
    assert json.loads((onehot / "report" / "metrics.json").read_text())["protocol"]["n"] == 16
    text = readme.read_text()
    assert "old table" not in text and text.endswith(f"{MARKERS[1]}\nafter\n")
    assert "(`faithful`)" in text and "(`text_onehot`)" in text
    mtime = (onehot / "report" / "metrics.json").stat().st_mtime_ns
    assert main(args) == 0  # a finished variant is reused, not retrained
    assert (onehot / "report" / "metrics.json").stat().st_mtime_ns == mtime
    stackgan = (onehot / "stackgan" / "stackgan.keras").stat().st_mtime_ns
    args[args.index("--evaluator-dir") + 1] = str(tmp_path / "evaluator2")
    assert main(args) == 0  # another evaluator: every variant is scored again, nothing retrained
    assert json.loads((onehot / "report" / "metrics.json").read_text())["protocol"]["evaluator"] == str(tmp_path / "evaluator2")
    assert (onehot / "stackgan" / "stackgan.keras").stat().st_mtime_ns == stackgan

"""Packs a trained, evaluated run as the model shipped inside the package.

    python -m keras_t2v.train --preset fixes --run-dir runs/fixes   # train every stage and the report
    python -m keras_t2v.ship --run-dir runs/fixes                   # -> keras_t2v/pretrained/ + docs/gallery/

Writes what `TextToVideo.from_pretrained()` loads with no argument (the generators, the text
encoder, the compacted word vectors and the resolved config, see `TextToVideo.save_pretrained`) with its
MODEL_CARD.md: data, training command, time per stage and machine (from <run>/timings.json),
the evaluation report's numbers against the quality targets, limitations and file sizes. Refuses
a model over --max-mb. Then renders the README gallery with the packed model.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

GALLERY_PROMPTS = (
    "a big blue box bounces up and down on a gray background",
    "a small red circle moves left on a dark background",
    "the tiny green disk is sliding to the right over stripes",
    "a large yellow triangle falls on a gray background",
)
# Issue #11's targets: (metric, split, threshold).
TARGETS = (("all five attributes", "test", 0.80), ("all five attributes", "test_unseen", 0.65),
           ("motion", "test", 0.90), ("motion", "test_unseen", 0.80))
ATTRIBUTES = ("shape", "color", "size", "motion", "background")


def _percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def metrics_table(metrics: dict) -> list[str]:
    """The evaluation report's attribute accuracies (generated videos judged by the evaluator)."""
    lines = ["| split | " + " | ".join(ATTRIBUTES) + " | all five | motion (rule) | KID-self (real floor) | distinct across seeds |",
             "|---" * 10 + "|"]
    for split, m in metrics["splits"].items():
        acc = m["attribute_accuracy"]
        lines.append(f"| {split} | " + " | ".join(_percent(acc[a]) for a in ATTRIBUTES) + f" | {_percent(acc['all'])} | "
                     f"{_percent(m['motion_accuracy_rule'])} | {m['kid_self']:.0f} ({m['kid_self_real_floor']:.0f}) | "
                     f"{m['distinct_across_seeds']:.1f} |")
    chance = next(iter(metrics["splits"].values()))["chance"]
    lines.append("| chance | " + " | ".join(_percent(chance[a]) for a in ATTRIBUTES) + f" | {_percent(chance['all'])} | "
                 f"{_percent(chance['motion'])} | | |")
    return lines


def target_lines(metrics: dict) -> list[str]:
    out = []
    for name, split, threshold in TARGETS:
        m = metrics["splits"][split]
        value = m["attribute_accuracy"]["all"] if name == "all five attributes" else m["attribute_accuracy"]["motion"]
        out.append(f"- {name} on {split}: {_percent(value)} against a target of {_percent(threshold)}: "
                   f"{'met' if value >= threshold else 'not met'}")
    return out


def limitation_lines(metrics: dict) -> list[str]:
    """What the numbers say the model cannot do: attributes within 5 points of chance on seen or
    unseen captions (one split a little above chance does not make an attribute shown)."""
    splits = metrics["splits"].values()
    at_chance = [a for a in ATTRIBUTES if any(s["attribute_accuracy"][a] < s["chance"][a] + 0.05 for s in splits)]
    if not at_chance:
        return []
    return [f"- On seen or unseen captions its videos are within 5 points of chance for {', '.join(at_chance)}: it does "
            "not show these attributes of the caption (yet). See the README's ablation table for what has been tried."]


def model_card(run_dir: Path, saved: Path, timing_note: str = "") -> str:
    from keras_t2v.config import flatten, get_preset, load_config, nearest_preset

    config = load_config(saved / "config.yaml")
    metrics = json.loads((run_dir / "report" / "metrics.json").read_text())
    timings = json.loads((run_dir / "timings.json").read_text())
    evaluator = metrics["protocol"]["evaluator_accuracy_on_real"]
    d = config.data
    preset, extra = nearest_preset(config)
    baseline = flatten(get_preset("baseline"))
    from_baseline = {k: v for k, v in flatten(get_preset(preset)).items() if baseline[k] != v and k != "preset"}
    sets = "".join(f" --set {k}={v}" for k, v in extra.items())
    seconds = timings["seconds"]
    training = sum(v for k, v in seconds.items() if k != "evaluate")
    files = sorted(p for p in saved.iterdir() if p.name != "MODEL_CARD.md")
    lines = [
        f"# keras_t2v shipped model (preset `{preset}`)",
        "",
        "Text in, a video out: "
        f"{d.num_frames} frames of {d.image_size}x{d.image_size}. A caption becomes {config.words.max_words} fastText word vectors "
        f"({config.words.vector_size}-d, trained here on the dataset's captions), "
        + ("the VAE encoder and the Siamese text tower turn" if config.joint.text_input == "vae" else "the Siamese text tower turns")
        + " them into a "
        f"{config.joint.embed_dim}-d code, StackGAN Stage-I paints the first frame from it and the {config.vgan.variant}-conditioned "
        "two-stream VGAN (static background, moving foreground and mask) turns frame and code into the video.",
        "",
        "    from keras_t2v.pipeline import TextToVideo",
        "    frames = TextToVideo.from_pretrained()(\"a big blue box bounces up and down on a gray background\", seed=0).frames[0]",
        "",
        "## Data",
        "",
        f"Captioned Moving Shapes (`shared/specs/dataset.md`), generated with seed {d.seed}: {d.train_size} training clips with "
        "three captions each; one object (3 shapes, 6 colours, 2 sizes, 6 motions, 3 backgrounds: 648 combinations). The "
        "`test_unseen` split holds attribute combinations no training clip shows. Nothing else: no pretrained weights.",
        "",
        "## Training",
        "",
        f"`python -m keras_t2v.train --preset {preset} --run-dir {run_dir}{sets}` (every stage, then the evaluation report), "
        f"then `python -m keras_t2v.ship --run-dir {run_dir}`."
        + (f" The `{preset}` preset is `baseline` with: " + ", ".join(f"`{k}={v}`" for k, v in from_baseline.items())
           + "." if from_baseline else ""),
        "",
        f"Machine: {timings['machine']}, CPU only.",
        "",
        "| step | minutes |",
        "|---|---|",
        *[f"| {k} | {v / 60:.1f} |" for k, v in seconds.items()],
        f"| training, all stages | {training / 60:.1f} |",
        "",
        *([timing_note, ""] if timing_note else []),
        "## Metrics",
        "",
        f"`python -m keras_t2v.evaluate --run-dir {run_dir}`: the first caption of {metrics['protocol']['n']} clips of each "
        "split, seed 0; generated videos judged by the evaluator (a classifier trained on real clips, never on generated ones). "
        "The installed model is scored the same way, without training, by `python -m keras_t2v.evaluate --pretrained`; "
        "an evaluator trained on another machine can differ from this one by a few points where the videos are ambiguous.",
        "",
        *metrics_table(metrics),
        "",
        "The evaluator's own accuracy on real clips (the ceiling of the numbers above): "
        + "; ".join(f"{split}: " + ", ".join(f"{a} {_percent(v)}" for a, v in acc["video"].items()) for split, acc in evaluator.items()) + ".",
        "",
        "Against the project's quality targets:",
        "",
        *target_lines(metrics),
        "",
        "## Limitations",
        "",
        "- It knows the synthetic world it was trained on: one shape on a plain or striped background, the dataset's "
        "vocabulary. Other words are encoded from fastText character n-grams and mean little to it.",
        *limitation_lines(metrics),
        f"- {d.image_size}x{d.image_size}, {d.num_frames} frames"
        + ("; Stage-II refines the first frame only (the video stays at Stage-I size)." if (saved / "refiner.keras").exists() else "."),
        "",
        "## Files",
        "",
        "| file | MB |",
        "|---|---|",
        *[f"| {p.name} | {p.stat().st_size / 1e6:.1f} |" for p in files],
        f"| total | {sum(p.stat().st_size for p in files) / 1e6:.1f} |",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run-dir", default="runs/fixes", help="a run trained and evaluated by python -m keras_t2v.train")
    parser.add_argument("--out", default=None, help="default: keras_t2v/pretrained (what from_pretrained() loads)")
    parser.add_argument("--gallery", default="docs/gallery", help="where the README's GIFs go ('' to skip)")
    parser.add_argument("--max-mb", type=float, default=40.0, help="refuse a model larger than this")
    parser.add_argument("--timing-note", default="", help="a sentence under the card's timing table (e.g. what else ran)")
    args = parser.parse_args(argv)

    from keras_t2v.export import export_to_gif
    from keras_t2v.pipeline import PRETRAINED_DIR, TextToVideo

    run_dir = Path(args.run_dir)
    missing = [p for p in ("report/metrics.json", "timings.json") if not (run_dir / p).exists()]
    if missing:
        parser.exit(2, f"error: {run_dir}: missing {', '.join(missing)}; train it with python -m keras_t2v.train (with the report)\n")
    pipe = TextToVideo.from_pretrained(run_dir)
    out = Path(args.out) if args.out else PRETRAINED_DIR
    staged = pipe.save_pretrained(out.with_name(out.name + ".staged"))
    megabytes = sum(p.stat().st_size for p in staged.iterdir()) / 1e6
    if megabytes > args.max_mb:
        parser.exit(2, f"error: the model is {megabytes:.1f} MB, over --max-mb {args.max_mb}; left in {staged} for inspection\n")
    (staged / "MODEL_CARD.md").write_text(model_card(run_dir, staged, args.timing_note))
    shutil.rmtree(out, ignore_errors=True)
    os.replace(staged, out)
    print(f"{out}: {megabytes:.1f} MB, model card {out / 'MODEL_CARD.md'}")
    if args.gallery:
        shipped = TextToVideo.from_pretrained(out)
        gallery = Path(args.gallery)
        for i, prompt in enumerate(GALLERY_PROMPTS):
            print(export_to_gif(shipped(prompt, seed=0).frames[0], gallery / f"shipped_{i}.gif", fps=8))
    return 0


if __name__ == "__main__":
    sys.exit(main())

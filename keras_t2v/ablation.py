"""The ablation table over the video stage's variants, from one trained base run.

    python -m keras_t2v.ablation --base runs/baseline --out runs/ablation --readme README.md

Each variant is the base config plus a few overrides, trained into <out>/<variant>: the stages
its overrides do not touch are copied from the base run, the rest are trained, then the run is
evaluated (`keras_t2v.evaluate`, N = --n per split). A variant's trained stages and its report
are reused (the report only when it has the same N and evaluator), so an interrupted ablation
continues where it stopped and a new evaluator re-scores every variant without retraining. The table goes to <out>/ablation.md and, with
--readme, between the `<!-- ablation:start -->` and `<!-- ablation:end -->` lines of that file.
"""

from __future__ import annotations

import argparse
import copy
import json
import shutil
import sys
from pathlib import Path

from keras_t2v.config import apply_overrides, load_config
from keras_t2v.runs import Run, config_differences
from keras_t2v.train import STAGES

VARIANTS = {
    "faithful": ("image-conditioned VGAN (the original pipeline)", ["vgan.variant=image"]),
    "text": ("text-conditioned VGAN, matching-aware D (the proposed fix)", ["vgan.variant=text"]),
    "text_one_stream": ("text-conditioned, one stream (no mask / background)", ["vgan.variant=text", "vgan.two_stream=false"]),
    "text_action_words": ("text-conditioned, action words weighted x2", ["vgan.variant=text", "words.action_word_weight=2.0"]),
    "text_onehot": ("text-conditioned, one-hot attribute code (text side's upper bound)", ["vgan.variant=text", "joint.gan_code=attributes"]),
    "text_aux": ("text-conditioned, auxiliary attribute classifiers in both GANs' D (TAC-GAN)",
                 ["vgan.variant=text", "stackgan.attribute_weight=1.0", "vgan.attribute_weight=1.0"]),
}
# The first stage each setting affects (by section, then exceptions by key).
FIRST_STAGE = {"data": "words", "words": "words", "vae": "vae", "joint": "joint", "stackgan": "stackgan", "vgan": "vgan", "train": "words"}
FIRST_STAGE_OF_KEY = {"words.action_word_weight": "vae", "joint.gan_code": "stackgan", "stackgan.stage2": "stackgan2",
                      "stackgan.stage2_epochs": "stackgan2"}
MARKERS = ("<!-- ablation:start -->", "<!-- ablation:end -->")


def first_changed_stage(base, variant) -> str | None:
    """The earliest stage whose result differs between two configs (None when they are equal)."""
    keys = [d.split(":")[0] for d in config_differences(base, variant)]
    stages = [FIRST_STAGE_OF_KEY.get(key, FIRST_STAGE.get(key.split(".")[0], "words")) for key in keys]
    return min(stages, key=STAGES.index) if stages else None


def prepare_variant(base_dir: Path, out_dir: Path, overrides: list[str]) -> Run:
    """The variant's run directory with the unaffected stages copied from the base run."""
    base = load_config(base_dir / "config.yaml")
    config = apply_overrides(copy.deepcopy(base), overrides)
    run = Run.open(out_dir, config)
    first = first_changed_stage(base, config) or "vgan"
    for stage in STAGES[: STAGES.index(first)]:
        if (base_dir / stage).exists() and not (out_dir / stage).exists():
            shutil.copytree(base_dir / stage, out_dir / stage)
    if (base_dir / "cache").exists() and not (out_dir / "cache").exists():
        shutil.copytree(base_dir / "cache", out_dir / "cache")
    return run


def row(name: str, metrics: dict) -> dict:
    seen, unseen = metrics["splits"]["test"], metrics["splits"]["test_unseen"]
    return {
        "variant": name,
        **{f"{a}_{split}": m["attribute_accuracy"][a] for split, m in (("seen", seen), ("unseen", unseen))
           for a in ("all", "motion", "background")},
        "motion_rule_seen": seen["motion_accuracy_rule"],
        "stage1_all_seen": seen["stage1_frame_accuracy"]["all"],
        "kid_seen": seen["kid_self"], "kid_floor_seen": seen["kid_self_real_floor"],
        "recall_seen": seen["recall_k3"],
        "distinct": seen["distinct_across_seeds"],
    }


def table(rows: list[dict], base: str, n: int) -> str:
    lines = [f"Variants of `{base}`, evaluated with `python -m keras_t2v.evaluate` (N = {n} per split; seen = test, "
             "unseen = test_unseen; chance: all five 0.0015, motion 0.167, background 0.333).", "",
             "| variant | all five, seen / unseen | motion, seen / unseen | background, seen / unseen | motion (rule), seen | "
             "Stage-I frame all four, seen | KID-self (real floor), seen | recall, seen | difference across 4 seeds |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {VARIANTS[r['variant']][0]} (`{r['variant']}`) | {r['all_seen']:.3f} / {r['all_unseen']:.3f} | "
                     f"{r['motion_seen']:.3f} / {r['motion_unseen']:.3f} | {r['background_seen']:.3f} / {r['background_unseen']:.3f} | "
                     f"{r['motion_rule_seen']:.3f} | {r['stage1_all_seen']:.3f} | {r['kid_seen']:.0f} ({r['kid_floor_seen']:.0f}) | "
                     f"{r['recall_seen']:.3f} | {r['distinct']:.1f} |")
    return "\n".join(lines) + "\n"


def write_into(readme: Path, text: str) -> None:
    """Replaces the text between the ablation markers of `readme`."""
    content = readme.read_text()
    start, end = content.find(MARKERS[0]), content.find(MARKERS[1])
    if start < 0 or end < start:
        raise SystemExit(f"{readme}: no '{MARKERS[0]}' ... '{MARKERS[1]}' lines to write the table between")
    readme.write_text(content[: start + len(MARKERS[0])] + "\n" + text + content[end:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="a trained run directory (its config is the base of every variant)")
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma list of {', '.join(VARIANTS)}")
    parser.add_argument("--n", type=int, default=256, help="captions per split in each evaluation")
    parser.add_argument("--evaluator-dir", default=None)
    parser.add_argument("--readme", default=None, help="a Markdown file with the ablation markers to write the table into")
    args = parser.parse_args(argv)
    names = [v.strip() for v in args.variants.split(",")]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")

    from keras_t2v.evaluate import default_evaluator_dir, evaluate
    from keras_t2v.train import run_stage

    rows = []
    for name in names:
        out_dir = Path(args.out) / name
        report = out_dir / "report" / "metrics.json"
        run = prepare_variant(Path(args.base), out_dir, VARIANTS[name][1])
        evaluator = str(args.evaluator_dir or default_evaluator_dir(run))
        protocol = json.loads(report.read_text())["protocol"] if report.exists() else {}
        if (protocol.get("n"), protocol.get("evaluator")) != (args.n, evaluator):
            print(f"[ablation] {name}: {' '.join(VARIANTS[name][1])}", flush=True)
            for stage in STAGES:
                if stage != "stackgan2" or run.config.stackgan.stage2:
                    print(run_stage(stage, run, resume=True, force=False).summary(), flush=True)
            evaluate(str(out_dir), n=args.n, evaluator_dir=args.evaluator_dir)
        rows.append(row(name, json.loads(report.read_text())))
    text = table(rows, args.base, args.n)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "ablation.md").write_text(text)
    if args.readme:
        write_into(Path(args.readme), text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Evaluates a trained run directory (shared/specs/evaluation.md) into <run>/report/.

    python -m keras_t2v.evaluate --run-dir runs/quick            # N = 512 per split
    python -m keras_t2v.evaluate --run-dir runs/tiny --n 64 --evaluator-epochs 3
    python -m keras_t2v.evaluate --run-dir runs/x --stage stackgan   # Stage-I frames only -> report/stage1.json
    python -m keras_t2v.evaluate --pretrained                    # the shipped model -> runs/pretrained/report
    python -m keras_t2v.evaluate --run-dir my_model --out r      # a save_pretrained directory

A saved model directory (`TextToVideo.save_pretrained`, or the package's keras_t2v/pretrained) is
scored like a run: its config.yaml names the data, its generators make the videos. It has no
training logs, so its report has no curves.

Writes report/metrics.json, report/README.md, report/curves.png (every stage's loss and metric
curves, from the TensorBoard logs) and report/samples/ (GIFs and a frame strip of a fixed caption
set and seeds). The evaluator classifiers are trained on real clips the first time a
data configuration is evaluated and reused afterwards (--evaluator-dir).
Fixed protocol: captions = the first caption of clips 0..N-1 of `test` and `test_unseen`, seed 0;
real reference sets = the same clips, and clips 0..N-1 of `val` for the real-vs-real floors.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_t2v.config import to_dict  # noqa: E402
from keras_t2v.data.attributes import ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, FRAME_COLUMNS, NUM_VALUES  # noqa: E402
from keras_t2v.data.records import caption_pool, is_shapes, split_records  # noqa: E402
from keras_t2v.export import to_float  # noqa: E402
from keras_t2v.runs import Run  # noqa: E402

SAMPLE_PROMPTS = (
    "a small red circle moves left on a dark background",
    "on a striped background a big blue box bounces up and down",
    "the tiny green disk is sliding to the right over stripes",
    "a large yellow triangle falls on a gray background",
)


def default_evaluator_dir(run: Run) -> Path:
    """train.evaluator_dir, else one directory per data configuration and evaluator version,
    shared by runs (a new version of the evaluator networks never reads an older one's files)."""
    from keras_t2v.evaluation.classifiers import EVALUATOR_VERSION

    if run.config.train.evaluator_dir:
        return Path(run.config.train.evaluator_dir)
    data = to_dict(run.config)["data"]
    key = {k: data[k] for k in ("source", "path", "seed", "image_size", "num_frames")}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
    if run.config.data.source == "shards":
        return Path(run.config.data.path) / f"evaluator-v{EVALUATOR_VERSION}"
    return Path("runs") / "evaluators" / f"shapes-v{EVALUATOR_VERSION}-{digest}"


def real_clips(run: Run, split: str, n: int):
    """(videos uint8 (n, T, S, S, 3), attributes (n, 5), first captions) of clips 0..n-1."""
    records, _ = split_records(run.config.data, split, n)
    videos, attributes, captions = [], [], []
    for record in records:
        videos.append(record["video"].numpy())
        attributes.append(record["attributes"].numpy())
        captions.append(record["captions"][0].numpy().decode())
    return np.stack(videos), np.stack(attributes), captions


def generate_videos(pipe, captions: list[str], batch: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """(videos uint8 (n, T, S, S, 3), Stage-I frames uint8 (n, S, S, 3)) for `captions`, the
    evaluation's draw: the batch that starts at caption i samples from seed i."""
    outputs = [pipe(captions[start : start + batch], seed=start) for start in range(0, len(captions), batch)]
    return np.concatenate([o.frames for o in outputs]), np.concatenate([o.first_frames for o in outputs])


def content_drift(videos: np.ndarray) -> float:
    """Mean change (grey levels) of the object's colour from the first frame, over frames and clips.

    The object's colour in a frame is the median of its core pixels: those at least 90 % as far
    from the (median) background as the farthest one, so anti-aliased edges do not count.
    """
    from keras_t2v.evaluation.motion import OBJECT_THRESHOLD

    drifts = []
    for video in videos.astype(np.float32):
        background = np.median(video, axis=0)
        distance = np.abs(video - background).max(axis=-1)
        colours = []
        for frame, d in zip(video, distance):
            if d.max() > OBJECT_THRESHOLD:
                colours.append(np.median(frame[d >= 0.9 * d.max()], axis=0))
        if len(colours) > 1:
            drifts.append(np.mean([np.abs(c - colours[0]).mean() for c in colours[1:]]))
    return float(np.mean(drifts)) if drifts else float("nan")


def accuracy_table(predicted: np.ndarray, truth: np.ndarray, names) -> dict:
    table = {name: float(np.mean(predicted[:, i] == truth[:, i])) for i, name in enumerate(names)}
    table["all"] = float(np.mean((predicted == truth).all(axis=1)))
    return table


def confusion(predicted: np.ndarray, truth: np.ndarray, names) -> dict:
    """{attribute: {asked value: {judged value: count}}}: what was drawn for each value the caption
    asked for, which tells a generator that draws one shape for every caption from one that
    draws shapes at random (both score chance)."""
    table = {}
    for i, name in enumerate(names):
        values = ATTRIBUTE_VALUES[name]
        table[name] = {asked: {judged: int(np.sum((truth[:, i] == a) & (predicted[:, i] == j))) for j, judged in enumerate(values)}
                       for a, asked in enumerate(values)}
    return table


def chance(names) -> dict:
    levels = {n: 1.0 / NUM_VALUES[ATTRIBUTE_NAMES.index(n)] for n in names}
    levels["all"] = float(np.prod(list(levels.values())))
    return levels


def _load_evaluator(run_dir: str, evaluator_dir: str | None, evaluator_epochs: int | None):
    """(run, evaluator, its directory, its report); trains the evaluator the first time."""
    from keras_t2v.evaluation.in_training import load_or_train_evaluator

    run = Run.load(run_dir)
    if not is_shapes(run.config.data):
        raise SystemExit(f"{run_dir}: the evaluation measures Captioned Moving Shapes attributes; this run trains on imported clips")
    ev_dir = Path(evaluator_dir) if evaluator_dir else default_evaluator_dir(run)
    evaluator = load_or_train_evaluator(run, evaluator_epochs, ev_dir)
    return run, evaluator, ev_dir, json.loads((ev_dir / "evaluator.json").read_text())


def stage1_frames(model, codes: np.ndarray, count: int, z_scale: float = 1.0) -> np.ndarray:
    """(count, S, S, 3) Stage-I frames in [-1, 1] for the first caption of clips 0..count-1 (rows 0,
    3, 6, ... of `codes`), noise from seed 0 (times `z_scale`): the frames `evaluate_stage1` scores."""
    z = z_scale * np.random.default_rng(0).normal(size=(count, model.z_dim)).astype("float32")
    return np.concatenate([np.asarray(model.generate(codes[3 * i : 3 * (i + 64) : 3], z[i : i + 64])) for i in range(0, count, 64)])


def evaluate_stage1(run_dir: str, n: int = 512, evaluator_dir: str | None = None, evaluator_epochs: int | None = None,
                    report_dir: str | None = None) -> dict:
    """StackGAN Stage-I frames alone (issue 6's report), for runs trained up to the stackgan stage:
    the frame evaluator's attribute accuracy on one frame per caption (the first caption of clips
    0..n-1 of test and test_unseen, noise and CA noise from seed 0, z scaled as the pipeline scales
    it). Writes stage1.json to `report_dir` (default <run_dir>/report)."""
    from keras_t2v.evaluation.classifiers import FRAME_ATTRIBUTES
    from keras_t2v.models.stackgan_training import load_stage1, text_codes

    run, evaluator, ev_dir, evaluator_report = _load_evaluator(run_dir, evaluator_dir, evaluator_epochs)
    model = load_stage1(run, "the Stage-I evaluation")
    model.generator.get_layer("ca").reseed(0)
    columns = list(FRAME_COLUMNS)
    metrics = {"protocol": {"n": n, "seed": 0, "captions": "first caption of clips 0..n-1 of each split",
                            "evaluator": str(ev_dir), "evaluator_accuracy_on_real": evaluator_report["accuracy"]},
               "splits": {}}
    for split in ("test", "test_unseen"):
        codes, _ = text_codes(run, split)
        count = min(n, len(codes) // 3)
        attributes = caption_pool(run.config.data, split).attributes[:count]  # no video rendered
        frames = stage1_frames(model, codes, count, z_scale=run.config.stackgan.generation_z_scale)
        _, predicted = evaluator.predict_frame(frames)
        metrics["splits"][split] = {"stage1_frame_accuracy": accuracy_table(predicted, attributes[:, columns], FRAME_ATTRIBUTES),
                                    "chance": chance(FRAME_ATTRIBUTES),
                                    "confusion": confusion(predicted, attributes[:, columns], FRAME_ATTRIBUTES)}
    report = Path(report_dir) if report_dir else run.root / "report"
    report.mkdir(parents=True, exist_ok=True)
    (report / "stage1.json").write_text(json.dumps(metrics, indent=1))
    return metrics


def evaluate(run_dir: str, n: int = 512, evaluator_dir: str | None = None, evaluator_epochs: int | None = None, batch: int = 32,
             report_dir: str | None = None) -> dict:
    """Scores the run (or saved model directory) `run_dir`; writes the report to `report_dir` (default
    <run_dir>/report) and returns its metrics."""
    from keras_t2v.evaluation.classifiers import FRAME_ATTRIBUTES
    from keras_t2v.evaluation.curves import plot_curves
    from keras_t2v.evaluation.metrics import frechet_distance, kernel_distance, precision_recall
    from keras_t2v.evaluation.motion import classify_motion
    from keras_t2v.export import export_to_gif, frame_strip, save_image
    from keras_t2v.pipeline import TextToVideo

    run, evaluator, ev_dir, evaluator_report = _load_evaluator(run_dir, evaluator_dir, evaluator_epochs)
    pipe = TextToVideo.from_pretrained(run_dir)

    metrics = {"protocol": {"n": n, "seed": 0, "captions": "first caption of clips 0..n-1 of each split",
                            "evaluator": str(ev_dir), "evaluator_accuracy_on_real": evaluator_report["accuracy"]},
               "splits": {}}
    val_videos, _, _ = real_clips(run, "val", n)
    val_features, _ = evaluator.predict_video(to_float(val_videos))
    for split in ("test", "test_unseen"):
        videos, attributes, captions = real_clips(run, split, n)
        generated, first_frames = generate_videos(pipe, captions, batch)
        fake_features, predicted = evaluator.predict_video(to_float(generated))
        real_features, _ = evaluator.predict_video(to_float(videos))
        _, frame_predicted = evaluator.predict_frame(to_float(first_frames))
        motion_rule = np.array([classify_motion(v) for v in generated])
        frame_truth = attributes[:, list(FRAME_COLUMNS)]
        precision, recall = precision_recall(real_features, fake_features, k=3)
        metrics["splits"][split] = {
            "attribute_accuracy": accuracy_table(predicted, attributes, ATTRIBUTE_NAMES),
            "chance": chance(ATTRIBUTE_NAMES),
            "motion_accuracy_rule": float(np.mean(motion_rule == attributes[:, 3])),
            "motion_rule_on_real": float(np.mean([classify_motion(v) == a for v, a in zip(videos, attributes[:, 3])])),
            "stage1_frame_accuracy": accuracy_table(frame_predicted, frame_truth, FRAME_ATTRIBUTES),
            "fd_self": frechet_distance(real_features, fake_features),
            "fd_self_real_floor": frechet_distance(real_features, val_features),
            "kid_self": kernel_distance(real_features, fake_features),
            "kid_self_real_floor": kernel_distance(real_features, val_features),
            "precision_k3": precision,
            "recall_k3": recall,
            "content_drift": content_drift(generated),
            "content_drift_real": content_drift(videos),
            "distinct_across_seeds": None,
        }
    # Collapse check: one caption, several seeds.
    seeds = np.stack([pipe(SAMPLE_PROMPTS[1], seed=s).frames[0] for s in range(4)])
    distinct = float(np.mean([np.abs(seeds[i].astype(int) - seeds[j]).mean() for i in range(4) for j in range(i + 1, 4)]))
    for split in metrics["splits"].values():
        split["distinct_across_seeds"] = distinct
    joint = run.root / "joint" / "report.json"
    if joint.exists():
        metrics["joint_retrieval_val"] = json.loads(joint.read_text())["retrieval_val"]

    report = Path(report_dir) if report_dir else run.root / "report"
    samples = pipe(list(SAMPLE_PROMPTS), seed=0)
    for i, frames in enumerate(samples.frames):
        export_to_gif(frames, report / "samples" / f"sample_{i}.gif", fps=8)
    save_image(frame_strip(samples.frames, 8), report / "samples" / "strip.png")
    metrics["curves"] = plot_curves(run.root / "logs", report / "curves.png") is not None
    (report / "metrics.json").write_text(json.dumps(metrics, indent=1))
    (report / "README.md").write_text(markdown_report(run, metrics))
    return metrics


def markdown_report(run: Run, metrics: dict) -> str:
    from keras_t2v.config import nearest_preset

    preset, extra = nearest_preset(run.config)
    differs = f" with {len(extra)} keys changed" if extra else ""
    lines = [f"# Evaluation of `{run.root}` (preset {preset}{differs}, VGAN variant {run.config.vgan.variant})", "",
             f"Protocol: N = {metrics['protocol']['n']} per split, {metrics['protocol']['captions']}, seed 0.", "",
             "## Evaluator accuracy on real clips", "", "| split | network | " + " | ".join(ATTRIBUTE_NAMES) + " |",
             "|---|---|" + "---|" * len(ATTRIBUTE_NAMES)]
    for split, nets in metrics["protocol"]["evaluator_accuracy_on_real"].items():
        for net, acc in nets.items():
            lines.append(f"| {split} | {net} | " + " | ".join(f"{acc[a]:.3f}" if a in acc else "-" for a in ATTRIBUTE_NAMES) + " |")
    lines += ["", "## Generated videos", "", "| metric | test (seen) | test_unseen |", "|---|---|---|"]
    s, u = metrics["splits"]["test"], metrics["splits"]["test_unseen"]
    for name in (*ATTRIBUTE_NAMES, "all"):
        lines.append(f"| attribute accuracy: {name} (chance {s['chance'][name]:.3f}) | {s['attribute_accuracy'][name]:.3f} | {u['attribute_accuracy'][name]:.3f} |")
    lines.append(f"| motion accuracy, rule-based (on real: {s['motion_rule_on_real']:.3f}) | {s['motion_accuracy_rule']:.3f} | {u['motion_accuracy_rule']:.3f} |")
    for name in ("shape", "color", "size", "background", "all"):
        lines.append(f"| Stage-I frame accuracy: {name} | {s['stage1_frame_accuracy'][name]:.3f} | {u['stage1_frame_accuracy'][name]:.3f} |")
    for key, label in (("fd_self", "FD-self"), ("kid_self", "KID-self")):
        lines.append(f"| {label} (real-vs-real floor) | {s[key]:.3f} ({s[key + '_real_floor']:.3f}) | {u[key]:.3f} ({u[key + '_real_floor']:.3f}) |")
    lines += [f"| precision / recall (k = 3) | {s['precision_k3']:.3f} / {s['recall_k3']:.3f} | {u['precision_k3']:.3f} / {u['recall_k3']:.3f} |",
              f"| content drift (real) | {s['content_drift']:.2f} ({s['content_drift_real']:.2f}) | {u['content_drift']:.2f} ({u['content_drift_real']:.2f}) |",
              f"| mean abs difference between 4 seeds of one caption | {s['distinct_across_seeds']:.2f} | |"]
    if "joint_retrieval_val" in metrics:
        r = metrics["joint_retrieval_val"]
        lines += ["", f"## Joint embedding retrieval (val, {r['candidates']} candidates)", "",
                  "| direction | R@1 | R@5 | R@10 |", "|---|---|---|---|",
                  *(f"| {d.replace('_', ' ')} | {r[d + '_R@1']:.3f} | {r[d + '_R@5']:.3f} | {r[d + '_R@10']:.3f} |"
                    for d in ("caption_to_frame", "frame_to_caption"))]
    lines += ["", "Samples: `samples/strip.png` and `samples/sample_*.gif` (prompts in keras_t2v/evaluate.py)."]
    if metrics.get("curves", True):
        lines += ["", "Training curves of every stage: ![](curves.png)"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--run-dir", help="a run directory, or a saved model directory (save_pretrained)")
    source.add_argument("--pretrained", action="store_true", help="the model shipped in the package (keras_t2v/pretrained)")
    parser.add_argument("--out", default=None, help="report directory (default <run-dir>/report; runs/pretrained/report with --pretrained)")
    parser.add_argument("--n", type=int, default=512, help="captions per split")
    parser.add_argument("--evaluator-dir", default=None)
    parser.add_argument("--evaluator-epochs", type=int, default=None,
                        help="epochs of the evaluator classifiers when they are first trained (default: EVALUATOR_EPOCHS)")
    parser.add_argument("--stage", choices=("all", "stackgan"), default="all",
                        help="stackgan: score Stage-I frames only (a run trained up to the stackgan stage)")
    args = parser.parse_args(argv)
    if args.pretrained:
        from keras_t2v.pipeline import PRETRAINED_DIR

        args.run_dir, args.out = str(PRETRAINED_DIR), args.out or "runs/pretrained/report"
    if args.stage == "stackgan":
        if not (Path(args.run_dir) / "stackgan" / "stackgan.keras").exists():
            parser.error(f"--stage stackgan: {args.run_dir} has no trained stackgan stage (stackgan/stackgan.keras); "
                         "the full evaluation of a saved model reports its Stage-I frame accuracy too")
        metrics = evaluate_stage1(args.run_dir, args.n, args.evaluator_dir, args.evaluator_epochs, report_dir=args.out)
        for split, values in metrics["splits"].items():
            accuracy = values["stage1_frame_accuracy"]
            print(f"{split}: " + ", ".join(f"{name} {value:.3f}" for name, value in accuracy.items()))
        return 0
    metrics = evaluate(args.run_dir, args.n, args.evaluator_dir, args.evaluator_epochs, report_dir=args.out)
    print(markdown_report(Run.load(args.run_dir), metrics))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes the Captioned Moving Shapes dataset as TFRecord shards.

    python -m data_prep.make_shapes --out data/shapes                  # quick preset sizes
    python -m data_prep.make_shapes --out data/tiny --preset tiny --preview
    python -m data_prep.make_shapes --out data/s32 --size 32 --frames 16 --train 2048 --workers 2

Re-running with the same parameters resumes: shards whose size and SHA-256 match the manifest
are kept, anything else (a partial `.tmp`, a shard written but not yet recorded) is rewritten.
Shards are rendered in parallel worker processes; the manifest is updated after every shard.
"""

from __future__ import annotations

import argparse
import dataclasses
import multiprocessing
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

from keras_t2v.config import ConfigError, DataConfig, resolve_config  # noqa: E402
from keras_t2v.data.attributes import SPLITS  # noqa: E402
from keras_t2v.data.records import (  # noqa: E402
    MANIFEST,
    SHAPES_GENERATOR,
    check_shard,
    plan_shards,
    read_manifest,
    shard_name,
    split_size,
    write_manifest,
    write_shard,
)
from keras_t2v.data.shapes import GENERATOR_VERSION, make_clip  # noqa: E402
from keras_t2v.export import export_to_gif, frame_strip, save_image  # noqa: E402




def dataset_params(data: DataConfig) -> dict:
    """What determines the bytes of every shard; a resumed run must match it exactly."""
    return {
        "generator": SHAPES_GENERATOR,
        "version": GENERATOR_VERSION,
        "seed": data.seed,
        "size": data.image_size,
        "frames": data.num_frames,
        "shard_size": data.shard_size,
        "counts": {split: split_size(data, split) for split in SPLITS},
    }


def _write_job(job) -> tuple[str, int, dict]:
    out, split, shard, num_shards, first, count, params = job
    path = Path(out) / shard_name(split, shard, num_shards)
    entry = write_shard(path, params["seed"], split, first, count, params["size"], params["frames"])
    return split, shard, entry


def write_dataset(out: str | Path, data: DataConfig, workers: int = 1, progress: bool = True) -> dict:
    """Writes (or completes) the dataset in `out` and returns its manifest."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    params = dataset_params(data)
    if (out / MANIFEST).exists():
        manifest = read_manifest(out)
        if manifest["params"] != params:
            differ = sorted(k for k in params if manifest["params"].get(k) != params[k])
            raise SystemExit(
                f"{out} holds a dataset with other parameters ({', '.join(differ)}): "
                f"{ {k: manifest['params'].get(k) for k in differ} }; choose another --out"
            )
    else:
        manifest = {"params": params, "splits": {}, "complete": False}
    for stale in out.glob("*.tmp"):
        stale.unlink()

    jobs, total = [], 0
    for split, count in params["counts"].items():
        plan = plan_shards(count, data.shard_size)
        recorded = {e["file"]: e for e in manifest["splits"].get(split, {}).get("shards", [])}
        kept = []
        for shard, (first, n) in enumerate(plan):
            name = shard_name(split, shard, len(plan))
            entry = recorded.get(name)
            if entry is not None and check_shard(out, entry) is None:
                kept.append(entry)
            else:
                jobs.append((str(out), split, shard, len(plan), first, n, params))
                total += n
        manifest["splits"][split] = {"count": count, "shards": kept}
    manifest["complete"] = not jobs
    write_manifest(out, manifest)

    def record(split, entry):
        shards = manifest["splits"][split]["shards"]
        shards.append(entry)
        shards.sort(key=lambda e: e["first"])
        write_manifest(out, manifest)

    with tqdm(total=total, unit="video", desc=f"writing {out}", disable=not progress or not jobs) as bar:
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
            with context.Pool(min(workers, len(jobs))) as pool:
                for split, _, entry in pool.imap_unordered(_write_job, jobs):
                    record(split, entry)
                    bar.update(entry["count"])
        else:
            for job in jobs:
                split, _, entry = _write_job(job)
                record(split, entry)
                bar.update(entry["count"])
    manifest["complete"] = True
    write_manifest(out, manifest)
    return manifest


def _caption_band(text: str, width: int) -> np.ndarray:
    band = np.full((14, width, 3), 255, np.uint8)
    cv2.putText(band, text, (2, 10), cv2.FONT_HERSHEY_PLAIN, 0.7, (0, 0, 0), 1, cv2.LINE_AA)
    return band


def write_preview(out: str | Path, data: DataConfig, num_videos: int = 8, num_gifs: int = 4) -> Path:
    """preview/contact_sheet.png (frames of `num_videos` train clips under their first caption)
    and preview/clip_<k>.gif with preview/captions.txt."""
    preview = Path(out) / "preview"
    clips = [make_clip(data.seed, "train", k, data.image_size, data.num_frames) for k in range(num_videos)]
    zoom = max(1, 64 // data.image_size)  # small presets are shown enlarged (nearest neighbour)
    rows = []
    for clip in clips:
        strip = frame_strip(clip.video.repeat(zoom, axis=1).repeat(zoom, axis=2), num_columns=8)
        rows += [_caption_band(clip.spec.captions[0], strip.shape[1]), strip]
    save_image(np.concatenate(rows), preview / "contact_sheet.png")
    lines = []
    for k, clip in enumerate(clips[:num_gifs]):
        export_to_gif(clip.video, preview / f"clip_{k}.gif", fps=8)
        lines.append(f"clip_{k}.gif\t" + " | ".join(clip.spec.captions))
    (preview / "captions.txt").write_text("\n".join(lines) + "\n")
    return preview


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="dataset directory (created; resumed if it exists)")
    parser.add_argument("--preset", default=None, help="tiny | quick | paper: default sizes (quick)")
    parser.add_argument("--config", default=None, help="YAML config whose data section is used")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="data.key=value")
    for flag, field in [("--size", "image_size"), ("--frames", "num_frames"), ("--train", "train_size"),
                        ("--val", "val_size"), ("--test", "test_size"), ("--test-unseen", "test_unseen_size"),
                        ("--seed", "seed"), ("--shard-size", "shard_size")]:
        parser.add_argument(flag, dest=field, type=int, default=None, help=f"overrides data.{field}")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel shard writers")
    parser.add_argument("--preview", action="store_true", help="also write preview/ (contact sheet, GIFs)")
    args = parser.parse_args(argv)
    try:
        config = resolve_config(args.preset, args.config, args.overrides)
    except ConfigError as err:
        parser.error(str(err))
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(DataConfig) if getattr(args, f.name, None) is not None}
    data = dataclasses.replace(config.data, **changes)
    manifest = write_dataset(args.out, data, workers=args.workers)
    counts = {s: manifest["splits"][s]["count"] for s in SPLITS}
    print(f"{args.out}: {counts} clips of {data.num_frames}x{data.image_size}x{data.image_size}")
    if args.preview:
        print(f"preview: {write_preview(args.out, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

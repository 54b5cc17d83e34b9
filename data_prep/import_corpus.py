"""Imports a real captioned video collection as TFRecord shards every stage trains on unchanged.

    python -m data_prep.import_corpus --format mpii --source /data/MPII-MD --out data/mpii
    python -m data_prep.import_corpus --format lsmdc --source /data/lsmdc/avi --out data/lsmdc \\
        --annotations LSMDC16_annos_training.csv LSMDC16_annos_val.csv --keywords walks,runs,dances
    python -m data_prep.import_corpus --format frames --source /data/MPII-MD/jpgAllFrames --out data/f \\
        --annotations /data/MPII-MD/annotations-someone.csv --movies 0001_American_Beauty
    python -m data_prep.import_corpus --format csv --source clips.csv --out data/mine
    python -m data_prep.import_corpus --format stacked --source golf.txt --caption "a golf swing" --out data/golf

Then train with `--set data.source=shards --set data.path=<out> --set data.image_size=<size>
--set data.num_frames=<frames>` (the attribute evaluation applies to Captioned Moving Shapes only).

Clips are decoded with OpenCV in parallel worker processes, one shard per job. A clip that cannot
be imported (missing, unreadable, corrupt or empty video, too short) is skipped; so is an
annotation line that is malformed, not UTF-8, has an empty caption or points to no clip. Every
skipped item is listed with its reason in import_report.txt (and .json) with the totals.
Re-running the same command resumes: shards recorded in the manifest with a matching SHA-256
are kept.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import hashlib
import json
import multiprocessing
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import tensorflow as tf  # noqa: E402
from tqdm import tqdm  # noqa: E402

from keras_t2v.data.corpora import FORMATS, ClipError, ClipItem, Skipped, filter_items, prepare_clip, read_collection  # noqa: E402
from keras_t2v.data.records import (  # noqa: E402
    COMPRESSION,
    MANIFEST,
    check_shard,
    file_sha256,
    plan_shards,
    read_manifest,
    serialize_imported,
    shard_name,
    write_manifest,
)

GENERATOR = "import"
REPORT = "import_report"


@dataclasses.dataclass(frozen=True)
class ClipSettings:
    """How every clip is turned into (T, S, S, 3) frames; part of the dataset's identity."""

    size: int = 64
    frames: int = 32
    stride: int = 0  # 0: T frames spread uniformly over the clip; k: every k-th frame from the start
    min_frames: int = 1  # clips with fewer decoded frames are skipped
    stabilize: bool = False


def _items_digest(items: list[ClipItem]) -> str:
    rows = [(i.clip_id, i.path, i.kind, list(i.captions), i.split) for i in items]
    return hashlib.sha256(json.dumps(rows).encode("utf-8")).hexdigest()


def write_import_shard(path: Path, items: list[ClipItem], first: int, settings: ClipSettings) -> dict:
    """Decodes `items` (clip indices first, first + 1, ...) into the shard at `path`, atomically;
    returns its manifest entry, with the items it skipped and why."""
    tmp = path.with_name(path.name + ".tmp")
    written, skipped = 0, []
    with tf.io.TFRecordWriter(str(tmp), options=COMPRESSION) as writer:
        for offset, item in enumerate(items):
            try:
                clip = prepare_clip(item, settings.size, settings.frames, settings.stride, settings.min_frames, settings.stabilize)
            except (ClipError, cv2.error, OSError, ValueError) as err:
                skipped.append([f"{item.where or item.clip_id} ({item.path})", str(err)])
                continue
            writer.write(serialize_imported(clip, item.captions, first + offset, item.clip_id, item.path, item.start, item.end))
            written += 1
    os.replace(tmp, path)
    return {"file": path.name, "first": first, "items": len(items), "count": written, "skipped": skipped,
            "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _job(args) -> tuple[str, dict]:
    out, split, name, items, first, settings = args
    return split, write_import_shard(Path(out) / name, items, first, settings)


def import_collection(out: str | Path, items: list[ClipItem], annotation_skipped: list[Skipped], settings: ClipSettings,
                      *, fmt: str, source: str, shard_size: int = 64, workers: int = 1, progress: bool = True) -> dict:
    """Writes (or completes) the shards of `items` in `out`, then the report; returns the manifest.

    Items are ordered by split and clip id, so the plan (and every clip's index) is the same on
    every run and a resumed import keeps the shards it finished.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    by_split: dict[str, list[ClipItem]] = collections.defaultdict(list)
    for item in sorted(items, key=lambda i: (i.split, i.clip_id)):
        by_split[item.split].append(item)
    params = {"generator": GENERATOR, "format": fmt, "source": str(source), **dataclasses.asdict(settings),
              "shard_size": shard_size, "items_sha256": _items_digest(items)}
    manifest = {"params": params, "splits": {}, "complete": False}
    if (out / MANIFEST).exists():
        manifest = read_manifest(out)
        if manifest["params"] != params:
            differ = sorted(k for k in params if manifest["params"].get(k) != params[k])
            raise SystemExit(f"{out} holds an import with other parameters ({', '.join(differ)}); choose another --out")
    for stale in out.glob("*.tmp"):
        stale.unlink()
    manifest["annotation_skipped"] = [[s.item, s.reason] for s in annotation_skipped]

    jobs, todo = [], 0
    for split, split_items in by_split.items():
        plan = plan_shards(len(split_items), shard_size)
        recorded = {e["file"]: e for e in manifest["splits"].get(split, {}).get("shards", [])}
        kept = []
        for shard, (first, n) in enumerate(plan):
            name = shard_name(split, shard, len(plan))
            if name in recorded and check_shard(out, recorded[name]) is None:
                kept.append(recorded[name])
            else:
                jobs.append((str(out), split, name, split_items[first : first + n], first, settings))
                todo += n
        manifest["splits"][split] = {"shards": kept, "count": sum(e["count"] for e in kept)}
    write_manifest(out, manifest)

    def record(split, entry):
        shards = manifest["splits"][split]["shards"]
        shards.append(entry)
        shards.sort(key=lambda e: e["first"])
        manifest["splits"][split]["count"] = sum(e["count"] for e in shards)
        write_manifest(out, manifest)

    imported = skipped = 0
    with tqdm(total=todo, unit="clip", desc=f"importing into {out}", disable=not progress or not jobs) as bar:
        if workers > 1 and len(jobs) > 1:
            context = multiprocessing.get_context("spawn")  # TensorFlow is not fork-safe
            with context.Pool(min(workers, len(jobs))) as pool:
                results = pool.imap_unordered(_job, jobs)
                for split, entry in results:
                    record(split, entry)
                    imported, skipped = imported + entry["count"], skipped + len(entry["skipped"])
                    bar.set_postfix(imported=imported, skipped=skipped)
                    bar.update(entry["items"])
        else:
            for job in jobs:
                split, entry = _job(job)
                record(split, entry)
                imported, skipped = imported + entry["count"], skipped + len(entry["skipped"])
                bar.set_postfix(imported=imported, skipped=skipped)
                bar.update(entry["items"])
    manifest["complete"] = True
    write_manifest(out, manifest)
    write_report(out, manifest)
    return manifest


def import_report(manifest: dict) -> dict:
    """Totals and every skipped item with its reason, from a manifest written by `import_collection`."""
    skipped = [tuple(s) for s in manifest.get("annotation_skipped", [])]
    for split in manifest["splits"].values():
        for entry in split["shards"]:
            skipped += [tuple(s) for s in entry["skipped"]]
    reasons = collections.Counter(reason.split(":")[0].split(" (")[0] for _, reason in skipped)
    return {
        "imported": {split: s["count"] for split, s in manifest["splits"].items()},
        "skipped": len(skipped),
        "skipped_by_reason": dict(reasons.most_common()),
        "skipped_items": [{"item": item, "reason": reason} for item, reason in skipped],
    }


def write_report(out: Path, manifest: dict) -> dict:
    report = import_report(manifest)
    (out / f"{REPORT}.json").write_text(json.dumps(report, indent=1))
    lines = [f"imported: {report['imported']} (total {sum(report['imported'].values())})", f"skipped: {report['skipped']}"]
    lines += [f"  {count:6d}  {reason}" for reason, count in report["skipped_by_reason"].items()]
    lines += ["", "skipped items:"] + [f"{s['item']}\t{s['reason']}" for s in report["skipped_items"]]
    (out / f"{REPORT}.txt").write_text("\n".join(lines) + "\n")
    return report


def _names(value: str | None) -> list[str] | None:
    """A comma list, or @file with one name per line."""
    if not value:
        return None
    if value.startswith("@"):
        return [line.strip() for line in Path(value[1:]).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", required=True, choices=FORMATS)
    parser.add_argument("--source", required=True, help="collection root (mpii, lsmdc, frames), CSV file (csv) or list file (stacked)")
    parser.add_argument("--out", required=True, help="dataset directory (created; resumed if it exists)")
    parser.add_argument("--annotations", nargs="+", default=None, help="annotation file(s); mpii/frames default to <source>/annotations-someone.csv")
    parser.add_argument("--split-file", default=None, help="MPII-MD dataSplit.txt (default <source>/dataSplit.txt)")
    parser.add_argument("--caption", default="", help="stacked: caption of list lines that have none")
    parser.add_argument("--movies", default=None, help="keep only these movies: a comma list or @file")
    parser.add_argument("--keywords", default=None, help="keep only captions holding one of these words: a comma list or @file")
    parser.add_argument("--size", type=int, default=64, help="S: frames are S x S")
    parser.add_argument("--frames", type=int, default=32, help="T: frames per clip")
    parser.add_argument("--stride", type=int, default=0, help="0: T frames spread over the clip; k: every k-th frame from the start")
    parser.add_argument("--min-frames", type=int, default=1, help="skip clips with fewer decoded frames")
    parser.add_argument("--stabilize", action="store_true", help="warp frames into the first frame's coordinates (VGAN's SIFT + RANSAC)")
    parser.add_argument("--shard-size", type=int, default=64, help="clips per shard")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="parallel decoding processes")
    args = parser.parse_args(argv)

    annotations = args.annotations if args.format == "lsmdc" else (args.annotations[0] if args.annotations else None)
    try:
        items, annotation_skipped = read_collection(args.format, args.source, annotations, args.split_file, args.caption)
    except (FileNotFoundError, ClipError, ValueError) as err:
        parser.error(str(err))
    kept = filter_items(items, _names(args.movies), _names(args.keywords))
    print(f"{args.source}: {len(items)} annotated clips, {len(kept)} after filters, {len(annotation_skipped)} annotation lines skipped")
    if not kept:
        parser.error("no clip to import (check --source, --annotations and the filters; see the skipped lines above)")
    settings = ClipSettings(args.size, args.frames, args.stride, args.min_frames, args.stabilize)
    manifest = import_collection(args.out, kept, annotation_skipped, settings, fmt=args.format, source=args.source,
                                 shard_size=args.shard_size, workers=args.workers)
    report = import_report(manifest)
    print(f"{args.out}: imported {report['imported']}; skipped {report['skipped']} {report['skipped_by_reason']}; "
          f"details in {Path(args.out) / (REPORT + '.txt')}")
    for split in ("train", "val"):
        if not report["imported"].get(split):
            print(f"warning: no {split} clips; the training stages need train and val splits", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

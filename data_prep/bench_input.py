"""Throughput of the input pipelines in videos/s (a benchmark, not a test).

    python -m data_prep.bench_input --size 64 --frames 32 --count 2048

Measures, after one warm-up batch: rendering on the fly (tf.data over indices), reading TFRecord
shards (written first to a temporary directory), and full training batches (float video, caption,
mismatched caption) from each source. Prints a Markdown table and writes JSON with --json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from data_prep.make_shapes import write_dataset  # noqa: E402
from keras_t2v.config import DataConfig  # noqa: E402
from keras_t2v.data.records import generate_records, make_examples, read_records, shapes_caption_pool  # noqa: E402


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def videos_per_second(dataset, batched: bool) -> float:
    iterator = iter(dataset)
    next(iterator)  # warm-up: graph tracing, thread pools, file handles
    count, start = 0, time.perf_counter()
    for element in iterator:
        count += int(element["video"].shape[0]) if batched else 1
    return count / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--count", type=int, default=2048)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args(argv)

    data = DataConfig(image_size=args.size, num_frames=args.frames, train_size=args.count, val_size=0, test_size=0, test_unseen_size=0)
    pool = shapes_caption_pool(data.seed, "train", args.count)
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        write_dataset(tmp, data, workers=args.workers, progress=False)
        results["write shards (make_shapes)"] = args.count / (time.perf_counter() - start)
        sources = {
            "on the fly": lambda: generate_records(data.seed, "train", args.count, args.size, args.frames),
            "TFRecord shards": lambda: read_records(tmp, "train").dataset,
        }
        for name, records in sources.items():
            results[f"records, {name}"] = videos_per_second(records(), batched=False)
            examples = make_examples(records(), pool, args.batch_size, shuffle_buffer=256)
            results[f"training batches, {name}"] = videos_per_second(examples, batched=True)

    machine = f"{cpu_name()}, {os.cpu_count()} cores"
    print(f"| pipeline ({args.frames}x{args.size}x{args.size}, {args.count} videos; {machine}) | videos/s |")
    print("|---|---|")
    for name, rate in results.items():
        print(f"| {name} | {rate:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine, "size": args.size, "frames": args.frames, "videos_per_s": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

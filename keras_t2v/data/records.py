"""TFRecord shards of captioned clips and the tf.data pipelines that feed every stage.

On disk a dataset is a directory with `manifest.json` and GZIP-compressed TFRecord shards
`<split>-<i>-of-<n>.tfrecord.gz`, one `tf.train.Example` per clip (raw uint8 frames, labels,
captions). The manifest records the generator, its version and parameters, and every shard's
size and SHA-256, so a truncated or corrupt shard is caught before training reads it.

Two sources yield the same records: `read_records` (shards) and `generate_records` (rendering
Captioned Moving Shapes on the fly from indices). `make_examples` turns either into training
examples: video (T, S, S, 3) float32 in [-1, 1], one of its captions, a mismatched caption (from a
clip with a different attribute combination, for matching-aware losses) and the attributes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from keras_t2v.data.shapes import Clip, describe_clip, make_clip

COMPRESSION = "GZIP"
MANIFEST = "manifest.json"
NUM_CAPTIONS = 3
SHAPES_GENERATOR = "captioned_moving_shapes"


class ShardError(IOError):
    """A shard that is missing, truncated or corrupt; the message names the file."""


def shard_name(split: str, shard: int, num_shards: int) -> str:
    return f"{split}-{shard:05d}-of-{num_shards:05d}.tfrecord.gz"


def plan_shards(count: int, shard_size: int) -> list[tuple[int, int]]:
    """(first index, number of clips) of each shard of a split of `count` clips."""
    return [(first, min(shard_size, count - first)) for first in range(0, count, shard_size)]


# --------------------------------------------------------------------------------- writing


def _bytes(values):
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))


def _ints(values):
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(v) for v in values]))


def _floats(values):
    return tf.train.Feature(float_list=tf.train.FloatList(value=np.asarray(values, np.float32).ravel()))


def serialize_clip(clip: Clip) -> bytes:
    """One clip as a serialized tf.train.Example."""
    spec = clip.spec
    feature = {
        "video": _bytes([np.ascontiguousarray(clip.video, np.uint8).tobytes()]),
        "attributes": _ints(spec.attributes),
        "captions": _bytes([c.encode("utf-8") for c in spec.captions]),
        "key": _ints([spec.key]),
        "seed": _ints(spec.seed),
        "centers": _floats(clip.centers),
        "boxes": _floats(clip.boxes),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def serialize_imported(video: np.ndarray, captions, index: int, clip_id: str, source: str, start: float, end: float) -> bytes:
    """An imported clip (T, S, S, 3) uint8 as a serialized tf.train.Example of the same schema as
    Captioned Moving Shapes: attributes are unknown (-1), the key is the clip's index (so every
    other clip counts as a mismatch), object centres and boxes are NaN; its 1-3 captions are cycled
    to NUM_CAPTIONS, and the source (clip id, file, start and end seconds) is kept."""
    captions = [captions[k % len(captions)] for k in range(NUM_CAPTIONS)]
    frames = video.shape[0]
    feature = {
        "video": _bytes([np.ascontiguousarray(video, np.uint8).tobytes()]),
        "attributes": _ints([-1] * 5),
        "captions": _bytes([c.encode("utf-8") for c in captions]),
        "key": _ints([index]),
        "seed": _ints([0, 0, index]),
        "centers": _floats(np.full(frames * 2, np.nan)),
        "boxes": _floats(np.full(frames * 4, np.nan)),
        "clip_id": _bytes([clip_id.encode("utf-8")]),
        "source": _bytes([source.encode("utf-8")]),
        "span": _floats([start, end]),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_shard(path: str | Path, seed: int, split: str, first: int, count: int, size: int, frames: int) -> dict:
    """Renders clips [first, first + count) of `split` into `path`, atomically.

    The shard is written to `<path>.tmp` and renamed when complete, so a killed writer never
    leaves a partial file under the final name. Returns the manifest entry of the shard.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with tf.io.TFRecordWriter(str(tmp), options=COMPRESSION) as writer:
        for index in range(first, first + count):
            writer.write(serialize_clip(make_clip(seed, split, index, size, frames)))
    os.replace(tmp, path)
    return {"file": path.name, "first": first, "count": count, "bytes": path.stat().st_size, "sha256": file_sha256(path)}


def read_manifest(data_dir: str | Path) -> dict:
    path = Path(data_dir) / MANIFEST
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no dataset manifest (write one with python -m data_prep.make_shapes)") from None
    except json.JSONDecodeError as err:
        raise ShardError(f"{path}: manifest is not valid JSON ({err})") from None


def write_manifest(data_dir: str | Path, manifest: dict) -> None:
    """Writes manifest.json atomically."""
    path = Path(data_dir) / MANIFEST
    tmp = path.with_name(MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, path)


# --------------------------------------------------------------------------------- reading


def check_shard(data_dir: str | Path, entry: dict) -> str | None:
    """Why the shard of manifest `entry` cannot be read, or None when its size and SHA-256 match."""
    path = Path(data_dir) / entry["file"]
    if not path.exists():
        return "missing"
    actual = path.stat().st_size
    if actual != entry["bytes"]:
        return f"truncated or altered: {actual} bytes, manifest says {entry['bytes']}"
    if file_sha256(path) != entry["sha256"]:
        return "corrupt: SHA-256 differs from the manifest"
    return None


@dataclasses.dataclass
class Records:
    """The records of one split and what was left out reading them."""

    dataset: tf.data.Dataset  # of record dicts, see `_record_dict`
    count: int  # clips in the readable shards
    skipped: list[tuple[str, str]]  # (shard path, reason)


def _record_dict(video, attributes, captions, key, index, centers, boxes) -> dict:
    return {
        "video": video,  # (T, S, S, 3) uint8
        "attributes": tf.cast(attributes, tf.int32),  # (5,)
        "captions": captions,  # (3,) string
        "key": key,  # () int64, attribute combination index: equal keys never make a wrong pair
        "index": index,  # () int64, clip index in its split
        "centers": centers,  # (T, 2) float32, (x, y)
        "boxes": boxes,  # (T, 4) float32, (x0, y0, x1, y1)
    }


def parse_record(serialized, size: int, frames: int) -> dict:
    """Parses one serialized clip into a record dict with static shapes."""
    spec = {
        "video": tf.io.FixedLenFeature([], tf.string),
        "attributes": tf.io.FixedLenFeature([5], tf.int64),
        "captions": tf.io.FixedLenFeature([NUM_CAPTIONS], tf.string),
        "key": tf.io.FixedLenFeature([], tf.int64),
        "seed": tf.io.FixedLenFeature([3], tf.int64),
        "centers": tf.io.FixedLenFeature([frames * 2], tf.float32),
        "boxes": tf.io.FixedLenFeature([frames * 4], tf.float32),
    }
    f = tf.io.parse_single_example(serialized, spec)
    video = tf.reshape(tf.io.decode_raw(f["video"], tf.uint8), [frames, size, size, 3])
    return _record_dict(
        video, f["attributes"], f["captions"], f["key"], f["seed"][2],
        tf.reshape(f["centers"], [frames, 2]), tf.reshape(f["boxes"], [frames, 4]),
    )


def read_records(data_dir: str | Path, split: str, *, skip_corrupt: bool = False, verify: bool = True, cycle_length: int = 4) -> Records:
    """Records of `split` from the shards in `data_dir`.

    Every shard is checked against the manifest first (`verify`): a missing, truncated or corrupt
    shard raises `ShardError` naming it, or with `skip_corrupt` is left out and reported in
    `Records.skipped`. Shards are read with `interleave`, so file-based auto-sharding applies
    under tf.distribute.
    """
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    if split not in manifest["splits"]:
        raise ValueError(f"{data_dir}: no split {split!r}; it has {sorted(manifest['splits'])}")
    files, skipped, count = [], [], 0
    for entry in manifest["splits"][split]["shards"]:
        path = str(data_dir / entry["file"])
        problem = check_shard(data_dir, entry) if verify else None
        if problem is None:
            files.append(path)
            count += entry["count"]
        elif skip_corrupt:
            skipped.append((path, problem))
        else:
            raise ShardError(f"{path}: {problem}")
    if not files:
        raise ShardError(f"{data_dir}: no readable shard for split {split!r} (skipped: {skipped})")
    size, frames = manifest["params"]["size"], manifest["params"]["frames"]
    dataset = tf.data.Dataset.from_tensor_slices(files).interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type=COMPRESSION),
        cycle_length=min(cycle_length, len(files)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = dataset.map(lambda s: parse_record(s, size, frames), num_parallel_calls=tf.data.AUTOTUNE)
    return Records(dataset, count, skipped)


def generate_records(seed: int, split: str, count: int, size: int = 64, frames: int = 32,
                     shard: tuple[int, int] = (0, 1)) -> tf.data.Dataset:
    """Records of clips [0, count) of `split`, rendered on the fly in parallel.

    Yields exactly what `read_records` yields for shards written with the same parameters. With
    `shard=(i, n)` only clips i, i + n, i + 2n, ...: input pipeline i of n renders its own clips
    (sharding by index) instead of rendering all and keeping every n-th.
    """

    def render(index):
        clip = make_clip(seed, split, int(index), size, frames)
        spec = clip.spec
        return (
            clip.video,
            np.array(spec.attributes, np.int32),
            np.array([c.encode("utf-8") for c in spec.captions], object),
            np.int64(spec.key),
            clip.centers,
            clip.boxes,
        )

    def to_record(index):
        out_types = (tf.uint8, tf.int32, tf.string, tf.int64, tf.float32, tf.float32)
        video, attributes, captions, key, centers, boxes = tf.numpy_function(render, [index], out_types, stateful=False)
        video.set_shape([frames, size, size, 3])
        attributes.set_shape([5])
        captions.set_shape([NUM_CAPTIONS])
        key.set_shape([])
        centers.set_shape([frames, 2])
        boxes.set_shape([frames, 4])
        return _record_dict(video, attributes, captions, key, index, centers, boxes)

    index, num_shards = shard
    return tf.data.Dataset.range(index, count, num_shards).map(to_record, num_parallel_calls=tf.data.AUTOTUNE)


# --------------------------------------------------------------------------------- examples


@dataclasses.dataclass
class CaptionPool:
    """All captions of a split, in clip-index order, with the keys that tell mismatches apart."""

    captions: np.ndarray  # (N, 3) str
    keys: np.ndarray  # (N,) int64: attribute-combination index, or the clip index of imported clips
    attributes: np.ndarray | None = None  # (N, 5) attribute indices; None for imported clips


def shapes_caption_pool(seed: int, split: str, count: int) -> CaptionPool:
    """The caption pool of a Captioned Moving Shapes split, from descriptions (no rendering)."""
    specs = [describe_clip(seed, split, i) for i in range(count)]
    return CaptionPool(
        np.array([s.captions for s in specs]), np.array([s.key for s in specs], np.int64), np.array([s.attributes for s in specs], np.int64)
    )


def make_examples(
    records: tf.data.Dataset,
    pool: CaptionPool,
    batch_size: int,
    *,
    seed: int = 0,
    shuffle_buffer: int = 0,
    epochs: int | None = 1,
    drop_remainder: bool = False,
) -> tf.data.Dataset:
    """Batches of training examples from records.

    Each element is a dict: "video" (B, T, S, S, 3) float32 in [-1, 1], "caption" (B,) one of the
    clip's captions, "wrong_caption" (B,) a caption of a clip with another attribute combination,
    and "attributes" (B, 5) int32. The caption choices depend only on (seed, epoch, clip index), so
    shards and on-the-fly generation give the same examples whatever the read order.
    `epochs=None` repeats forever.
    """
    pool_captions = tf.constant(pool.captions.reshape(-1))
    pool_keys = tf.constant(np.repeat(pool.keys, NUM_CAPTIONS))
    num_candidates = 16  # P(all 16 share the clip's combination) is negligible with 100+ combinations

    epochs_ds = tf.data.Dataset.range(epochs) if epochs is not None else tf.data.Dataset.counter()
    ds = epochs_ds.flat_map(lambda epoch: records.map(lambda r: (r, epoch)))
    if shuffle_buffer:
        ds = ds.shuffle(shuffle_buffer, seed=seed)

    def to_example(record, epoch):
        rng = tf.stack([tf.constant(seed, tf.int64) * 1_000_003 + epoch, record["index"]])
        rng_caption, rng_wrong = tf.unstack(tf.random.experimental.stateless_split(rng, 2))
        choice = tf.random.stateless_uniform([], rng_caption, maxval=NUM_CAPTIONS, dtype=tf.int32)
        candidates = tf.random.stateless_uniform(
            [num_candidates], rng_wrong, maxval=tf.size(pool_keys, tf.int64), dtype=tf.int64
        )
        differs = tf.cast(tf.gather(pool_keys, candidates) != record["key"], tf.int32)
        wrong = tf.gather(pool_captions, candidates[tf.argmax(differs)])
        return {
            "video": tf.cast(record["video"], tf.float32) / 127.5 - 1.0,
            "caption": record["captions"][choice],
            "wrong_caption": wrong,
            "attributes": record["attributes"],
        }

    ds = ds.map(to_example, num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=drop_remainder).prefetch(tf.data.AUTOTUNE)


def caption_rows(captions: list[str]):
    """A tf function mapping caption strings (B,) to their rows (B,) in `captions` (row 3i + j is
    caption j of clip i). Clips can share a caption word for word; such a caption maps to its
    first row (identical captions have identical codes)."""
    unique, first = np.unique(np.asarray(captions), return_index=True)
    table = tf.lookup.StaticHashTable(
        tf.lookup.KeyValueTensorInitializer(tf.constant(unique), tf.constant(first, tf.int64)), -1
    )
    return table.lookup


# --------------------------------------------------------------------------------- by config


def split_size(data, split: str) -> int:
    """Number of clips of `split` the DataConfig asks for (generated data)."""
    return {"train": data.train_size, "val": data.val_size, "test": data.test_size, "test_unseen": data.test_unseen_size}[split]


def is_shapes(data) -> bool:
    """True when the data is Captioned Moving Shapes (labelled with attributes), False for imported clips."""
    return data.source == "generate" or read_manifest(data.path)["params"].get("generator") == SHAPES_GENERATOR


def check_data_shape(data) -> None:
    """Raises ValueError when the shards at `data.path` hold clips of another size than the config's."""
    params = read_manifest(data.path)["params"]
    if (params["size"], params["frames"]) != (data.image_size, data.num_frames):
        raise ValueError(
            f"{data.path}: clips are {params['frames']} frames of {params['size']}x{params['size']}, the config asks for "
            f"{data.num_frames} of {data.image_size}x{data.image_size}; set data.image_size={params['size']} data.num_frames={params['frames']}"
        )


def split_records(data, split: str, count: int | None = None, shard: tuple[int, int] = (0, 1)) -> tuple[tf.data.Dataset, int]:
    """(records, count) of `split`: shards at `data.path`, or rendered on the fly; with `count`,
    only the first `count` clips; with `shard=(i, n)` (generated data only) the clips of input
    pipeline i of n, see `generate_records`."""
    if data.source == "shards":
        if shard != (0, 1):
            raise ValueError("TFRecord shards are split across workers by file (tf.data auto-sharding), not by index")
        check_data_shape(data)
        records = read_records(data.path, split)
        total = records.count if count is None else min(count, records.count)
        return records.dataset.take(total), total
    if data.source != "generate":
        raise ValueError(f"data.source must be 'generate' or 'shards', got {data.source!r}")
    total = split_size(data, split) if count is None else count
    return generate_records(data.seed, split, total, data.image_size, data.num_frames, shard), total


def shapes_seed_and_count(data, split: str) -> tuple[int, int]:
    """(dataset seed, clips in `split`) of Captioned Moving Shapes data, generated or in shards;
    ValueError for imported clips, which cannot be re-rendered."""
    if data.source != "shards":
        return data.seed, split_size(data, split)
    params = read_manifest(data.path)["params"]
    if params.get("generator") != SHAPES_GENERATOR:
        raise ValueError(f"{data.path}: imported clips cannot be re-rendered; this needs Captioned Moving Shapes")
    return params["seed"], params["counts"][split]


def caption_pool(data, split: str) -> CaptionPool:
    """All captions of `split` in clip-index order with their keys, without decoding any video
    when the clips are Captioned Moving Shapes (they are regenerated from their descriptions)."""
    if is_shapes(data):
        seed, count = shapes_seed_and_count(data, split)
        return shapes_caption_pool(seed, split, count)
    rows = read_records(data.path, split).dataset.map(lambda r: (r["index"], r["captions"], r["key"]))
    rows = sorted((int(i), [c.decode("utf-8") for c in captions.numpy()], int(k)) for i, captions, k in rows)
    return CaptionPool(np.array([r[1] for r in rows]).reshape(-1, NUM_CAPTIONS), np.array([r[2] for r in rows], np.int64))

"""TFRecord shards round-trip losslessly, corruption is caught by name, and both pipelines agree."""

import hashlib

import numpy as np
import pytest
import tensorflow as tf

from data_prep.make_shapes import write_dataset
from keras_t2v.config import get_preset
from keras_t2v.data.captions import parse_caption
from keras_t2v.data.records import (
    ShardError,
    caption_rows,
    generate_records,
    make_examples,
    read_records,
    shapes_caption_pool,
    write_shard,
)
from keras_t2v.data.shapes import make_clip


@pytest.fixture(scope="module")
def tiny_data():
    return get_preset("tiny").data


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory, tiny_data):
    out = tmp_path_factory.mktemp("shapes")
    write_dataset(out, tiny_data, workers=1, progress=False)
    return out


def test_round_trip_is_lossless(dataset_dir, tiny_data):
    records = read_records(dataset_dir, "val")
    assert records.count == tiny_data.val_size and records.skipped == []
    seen = 0
    for record in records.dataset:
        index = int(record["index"])
        clip = make_clip(tiny_data.seed, "val", index, tiny_data.image_size, tiny_data.num_frames)
        np.testing.assert_array_equal(record["video"].numpy(), clip.video)
        np.testing.assert_array_equal(record["centers"].numpy(), clip.centers)
        np.testing.assert_array_equal(record["boxes"].numpy(), clip.boxes)
        assert tuple(record["attributes"].numpy()) == clip.spec.attributes
        assert [c.decode() for c in record["captions"].numpy()] == list(clip.spec.captions)
        assert int(record["key"]) == clip.spec.key
        seen += 1
    assert seen == tiny_data.val_size


def test_regenerating_a_shard_gives_identical_bytes(tmp_path):
    a = write_shard(tmp_path / "a.tfrecord.gz", 3, "train", 5, 4, 16, 8)
    b = write_shard(tmp_path / "b.tfrecord.gz", 3, "train", 5, 4, 16, 8)
    assert a["sha256"] == b["sha256"] and a["bytes"] == b["bytes"]
    assert not list(tmp_path.glob("*.tmp"))


def test_splits_are_disjoint(dataset_dir):
    digests = {}
    for split in ("train", "val", "test", "test_unseen"):
        for record in read_records(dataset_dir, split).dataset:
            digest = hashlib.sha256(record["video"].numpy().tobytes()).hexdigest()
            assert digest not in digests, f"{split} repeats a video of {digests.get(digest)}"
            digests[digest] = split


def _copy(dataset_dir, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(dataset_dir, target)
    return target


def test_truncated_shard_is_named(dataset_dir, tmp_path):
    data = _copy(dataset_dir, tmp_path)
    shard = sorted(data.glob("train-*.tfrecord.gz"))[1]
    shard.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(ShardError, match=shard.name + ".*truncated"):
        read_records(data, "train")


def test_corrupt_shard_is_named_or_skipped_and_counted(dataset_dir, tmp_path, tiny_data):
    data = _copy(dataset_dir, tmp_path)
    shard = sorted(data.glob("train-*.tfrecord.gz"))[2]
    raw = bytearray(shard.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(ShardError, match=shard.name + ".*corrupt"):
        read_records(data, "train")
    records = read_records(data, "train", skip_corrupt=True)
    assert [(p.split("/")[-1], r.split(":")[0]) for p, r in records.skipped] == [(shard.name, "corrupt")]
    assert records.count == tiny_data.train_size - tiny_data.shard_size
    assert sum(1 for _ in records.dataset) == records.count


def test_missing_shard_is_named(dataset_dir, tmp_path):
    data = _copy(dataset_dir, tmp_path)
    shard = sorted(data.glob("test-*.tfrecord.gz"))[0]
    shard.unlink()
    with pytest.raises(ShardError, match=shard.name + ": missing"):
        read_records(data, "test")


def _by_video(dataset):
    """video bytes -> sorted (caption, wrong caption, attributes) of its appearances."""
    out = {}
    for batch in dataset:
        for i in range(len(batch["caption"])):
            example = (batch["caption"][i].numpy(), batch["wrong_caption"][i].numpy(), tuple(batch["attributes"][i].numpy()))
            out.setdefault(batch["video"][i].numpy().tobytes(), []).append(example)
    return {k: sorted(v) for k, v in out.items()}


def test_shards_and_on_the_fly_generation_yield_the_same_examples(dataset_dir, tiny_data):
    pool = shapes_caption_pool(tiny_data.seed, "train", tiny_data.train_size)
    from_shards = make_examples(read_records(dataset_dir, "train").dataset, pool, 8, seed=4, shuffle_buffer=32, epochs=2)
    generated = generate_records(tiny_data.seed, "train", tiny_data.train_size, tiny_data.image_size, tiny_data.num_frames)
    on_the_fly = make_examples(generated, pool, 8, seed=4, epochs=2)
    a, b = _by_video(from_shards), _by_video(on_the_fly)
    assert len(a) == tiny_data.train_size and a == b


def test_generation_sharded_by_index_splits_the_clips(tiny_data):
    def indices(shard):
        records = generate_records(tiny_data.seed, "train", 10, tiny_data.image_size, tiny_data.num_frames, shard=shard)
        return [int(r["index"]) for r in records]

    assert indices((0, 3)) == [0, 3, 6, 9] and indices((1, 3)) == [1, 4, 7] and indices((2, 3)) == [2, 5, 8]
    assert sorted(indices((0, 2)) + indices((1, 2))) == indices((0, 1)) == list(range(10))


def test_example_format_and_mismatched_captions(tiny_data):
    pool = shapes_caption_pool(tiny_data.seed, "train", tiny_data.train_size)
    records = generate_records(tiny_data.seed, "train", tiny_data.train_size, tiny_data.image_size, tiny_data.num_frames)
    captions_per_clip = {}
    for batch in make_examples(records, pool, 16, seed=1, epochs=3, drop_remainder=True):
        s, t = tiny_data.image_size, tiny_data.num_frames
        assert batch["video"].shape == (16, t, s, s, 3) and batch["video"].dtype == tf.float32
        assert float(tf.reduce_min(batch["video"])) >= -1.0 and float(tf.reduce_max(batch["video"])) <= 1.0
        for caption, wrong, attributes in zip(batch["caption"].numpy(), batch["wrong_caption"].numpy(), batch["attributes"].numpy()):
            assert parse_caption(caption.decode()) == tuple(attributes)
            assert parse_caption(wrong.decode()) != tuple(attributes)
            captions_per_clip.setdefault(tuple(attributes), set()).add(caption)
    # Across epochs a clip is shown with different ones of its captions.
    assert max(len(c) for c in captions_per_clip.values()) > 1


def test_caption_rows_handle_repeated_captions():
    # caption 2 repeats caption 0 word for word, so it maps to row 0 (identical captions, identical codes)
    rows = caption_rows(["a red box", "a blue box", "a red box", "a big disk"])
    np.testing.assert_array_equal(rows(tf.constant(["a big disk", "a red box", "a blue box"])).numpy(), [3, 0, 1])

"""Word vectors with real gensim models and files: training, .bin/.vec loading, sentence layout."""

import os
import subprocess
import sys

import numpy as np
import pytest
from gensim.models import KeyedVectors

from keras_t2v.config import get_preset
from keras_t2v.data.records import shapes_caption_pool
from keras_t2v.text.tokenizer import tokenize
from keras_t2v.text.word_vectors import (
    DEFAULT_ACTION_WORDS,
    EncodingReport,
    SentenceEncoder,
    compact_fasttext,
    file_id,
    load_word_vectors,
    prepare_word_vectors,
    sentence_encoder,
    train_fasttext,
)

CONFIG = get_preset("tiny").words


@pytest.fixture(scope="module")
def captions():
    return shapes_caption_pool(0, "train", 64).captions.reshape(-1).tolist()


@pytest.fixture(scope="module")
def bin_path(tmp_path_factory, captions):
    return prepare_word_vectors(CONFIG, captions, tmp_path_factory.mktemp("wv") / "vectors.bin", seed=0)


@pytest.fixture(scope="module")
def encoder(bin_path):
    return sentence_encoder(CONFIG, bin_path)


def test_bin_round_trip_keeps_vectors_and_subwords(captions, bin_path):
    model = train_fasttext([tokenize(c) for c in captions], CONFIG, seed=0)
    loaded = load_word_vectors(bin_path)
    assert loaded.vector_size == CONFIG.vector_size
    np.testing.assert_allclose(loaded["circle"], model.wv["circle"], atol=1e-6)
    # An unseen word gets a vector from its character n-grams, close to its seen relatives.
    assert "circles" not in loaded.key_to_index
    unseen = loaded["circles"]
    assert np.linalg.norm(unseen) > 0
    sims = loaded.cosine_similarities(unseen, np.stack([loaded["circle"], loaded["on"]]))
    assert sims[0] > sims[1]


def test_compacted_vectors_keep_every_trained_number(bin_path, tmp_path):
    packed = compact_fasttext(bin_path, tmp_path / "vectors.bin.gz")
    full, compact = load_word_vectors(bin_path), load_word_vectors(packed)
    assert compact.index_to_key == full.index_to_key
    np.testing.assert_array_equal(compact.vectors, full.vectors)  # in-vocabulary vectors, bit for bit
    trained = np.zeros(full.bucket, bool)
    for buckets in full.buckets_word:
        trained[buckets] = True
    assert 0 < trained.sum() < full.bucket
    np.testing.assert_array_equal(compact.vectors_ngrams[trained], full.vectors_ngrams[trained])
    assert not compact.vectors_ngrams[~trained].any() and np.abs(full.vectors_ngrams[~trained]).max() <= 1 / full.vector_size
    # An unseen word loses only the untrained rows' initialisation noise.
    for word in ("circles", "boxes", "zebra"):
        assert np.dot(compact[word], full[word]) / np.linalg.norm(compact[word]) / np.linalg.norm(full[word]) > 0.9
    assert packed.stat().st_size < 0.6 * bin_path.stat().st_size


def test_training_is_reproducible_across_processes(bin_path, captions, tmp_path):
    script = (
        "from keras_t2v.config import get_preset\n"
        "from keras_t2v.data.records import shapes_caption_pool\n"
        "from keras_t2v.text.word_vectors import prepare_word_vectors\n"
        "c = shapes_caption_pool(0, 'train', 64).captions.reshape(-1).tolist()\n"
        f"prepare_word_vectors(get_preset('tiny').words, c, r'{tmp_path / 'again.bin'}', seed=0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert file_id(tmp_path / "again.bin") == file_id(bin_path)


def test_vec_files_with_limit_and_unknown_words(bin_path, tmp_path):
    vec = tmp_path / "vectors.vec"
    full = load_word_vectors(bin_path)
    KeyedVectors.save_word2vec_format(full, str(vec), binary=False)
    loaded = load_word_vectors(vec)
    np.testing.assert_allclose(loaded["red"], full["red"], atol=1e-5)
    limited = load_word_vectors(vec, limit=10)
    assert len(limited.key_to_index) == 10
    encoder = SentenceEncoder(loaded, max_words=25)
    report = EncodingReport()
    vector = encoder.encode("a small zebra circle moves left", report)
    assert report.unknown == {"zebra": 1}
    slots = vector.reshape(25, -1)
    np.testing.assert_allclose(slots[2], loaded["circle"])  # zebra dropped, words shift left
    with pytest.raises(ValueError, match=r"no word has a vector \(unknown: zebra, quagga\)"):
        encoder.encode("zebra quagga")


def test_refuses_pickles_and_names_bad_files(tmp_path):
    for name in ("model.model", "vectors.kv", "vectors.pkl"):
        (tmp_path / name).write_bytes(b"\x80\x04junk")
        with pytest.raises(ValueError, match=f"{name}: unsupported word-vector format.*not loaded"):
            load_word_vectors(tmp_path / name)
    with pytest.raises(FileNotFoundError, match="missing.bin: no such word-vector file"):
        load_word_vectors(tmp_path / "missing.bin")
    (tmp_path / "broken.bin").write_bytes(b"not a fasttext model at all")
    with pytest.raises(ValueError, match="broken.bin: not a readable .bin word-vector file"):
        load_word_vectors(tmp_path / "broken.bin")
    (tmp_path / "broken.bin.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="broken.bin.gz: not a readable .bin.gz word-vector file"):
        load_word_vectors(tmp_path / "broken.bin.gz")
    (tmp_path / "broken.vec").write_text("3 4\nred 0.1 0.2\n")
    with pytest.raises(ValueError, match="broken.vec: not a readable .vec word-vector file"):
        load_word_vectors(tmp_path / "broken.vec")


def test_layout_and_padding(encoder):
    vector = encoder.encode("A big blue box, bounces up and down!")
    assert vector.shape == (25 * CONFIG.vector_size,) and vector.dtype == np.float32
    slots = vector.reshape(25, CONFIG.vector_size)
    words = ["a", "big", "blue", "box", "bounces", "up", "and", "down"]
    for i, word in enumerate(words):
        np.testing.assert_allclose(slots[i], encoder.vectors[word])
    assert not slots[len(words):].any()
    assert encoder.nearest_words(vector) == words


def test_long_caption_is_truncated_with_a_warning(encoder):
    text = " ".join(["red circle"] * 500)  # 1,000 words
    report = EncodingReport()
    with pytest.warns(UserWarning, match="caption of 1000 words truncated to its first 25"):
        vector = encoder.encode(text, report)
    assert report.truncated == 1
    slots = vector.reshape(25, -1)
    np.testing.assert_allclose(slots[23], encoder.vectors["circle"])
    np.testing.assert_allclose(slots[24], encoder.vectors["red"])


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "has no words"),
        ("  ?!... --- ", "has no words"),
        (b"a red \xff\xfe circle", r"not valid UTF-8 \(byte 6"),
    ],
)
def test_bad_captions(encoder, text, message):
    with pytest.raises(ValueError, match=message):
        encoder.encode(text)


def test_encode_many_names_the_bad_caption(encoder):
    with pytest.raises(ValueError, match="caption 1: caption '...' has no words"):
        encoder.encode_many(["a red circle", "..."])


def test_action_word_weighting(encoder):
    weighted = SentenceEncoder(encoder.vectors, 25, action_weight=3.0)
    text = "a red circle moves left on a dark background"
    plain, scaled = encoder.encode(text).reshape(25, -1), weighted.encode(text).reshape(25, -1)
    for i, word in enumerate(tokenize(text)):
        factor = 3.0 if word in DEFAULT_ACTION_WORDS else 1.0
        np.testing.assert_allclose(scaled[i], factor * plain[i], rtol=1e-6)
    assert {"moves", "left", "bounces", "falls", "up"} <= DEFAULT_ACTION_WORDS
    assert not {"red", "circle", "dark", "the", "background"} & DEFAULT_ACTION_WORDS


def test_sentence_cache(encoder, captions, tmp_path):
    first = encoder.encode_cached(captions, tmp_path, "vectors-a")
    files = list(tmp_path.glob("sentences-*.npy"))
    assert len(files) == 1
    np.testing.assert_array_equal(first, encoder.encode_many(captions)[0])
    mtime = files[0].stat().st_mtime_ns
    np.testing.assert_array_equal(encoder.encode_cached(captions, tmp_path, "vectors-a"), first)
    assert files[0].stat().st_mtime_ns == mtime  # read, not recomputed
    SentenceEncoder(encoder.vectors, 25, action_weight=2.0).encode_cached(captions, tmp_path, "vectors-a")
    encoder.encode_cached(captions, tmp_path, "vectors-b")
    encoder.encode_cached(captions[:-1], tmp_path, "vectors-a")
    assert len(list(tmp_path.glob("sentences-*.npy"))) == 4


def test_dimension_mismatch_is_named(bin_path):
    config = get_preset("quick").words
    with pytest.raises(ValueError, match="vectors have 16 dimensions, config words.vector_size is 300"):
        sentence_encoder(config, bin_path)

"""fastText word vectors (gensim) and the fixed-size sentence layout of the original project.

A caption becomes `max_words` (25) word vectors of `vector_size` (300) dimensions, concatenated
into one 7500-d vector and zero padded on the right (shared/specs/reference_architectures.md 3.3).

Vectors come from one of:
- a FastText model trained here on the training captions (`train_fasttext`), saved in Facebook's
  native .bin format so that it reloads without pickle and keeps its character n-grams (a saved
  pipeline stores it compacted, `compact_fasttext`: .bin.gz without the untrained n-gram buckets);
- a Facebook .bin file the user provides (`load_facebook_vectors`: unseen words get vectors from
  their n-grams), or a .vec text file (`KeyedVectors.load_word2vec_format`, optionally the `limit`
  most frequent words; words outside it have no vector and are counted, then dropped, as the
  original author's code dropped them).
gensim's own `.model`/`.kv` files are pickles and are refused: a user's file is never unpickled.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors
from gensim.models.fasttext import FastText, load_facebook_model, load_facebook_vectors, save_facebook_model

from keras_t2v.config import WordVectorConfig
from keras_t2v.data.captions import MOTION_PHRASES
from keras_t2v.text.tokenizer import tokenize

TOKENIZER_VERSION = 1  # bump when `tokenize` changes, to invalidate cached sentence vectors

# Words that carry the motion in Captioned Moving Shapes captions (the "action words" of the
# author's proposed fix); function words shared with other phrases are left out.
DEFAULT_ACTION_WORDS = frozenset(
    word
    for finite, progressive in MOTION_PHRASES
    for phrase in finite + progressive
    for word in phrase.split()
    if word not in {"to", "the", "and", "from", "is"}
)


def _stable_hash(text: str) -> int:
    """Process-independent replacement for Python's salted `hash` in gensim's seeding."""
    return zlib.crc32(text.encode("utf-8"))


def train_fasttext(sentences: list[list[str]], config: WordVectorConfig, seed: int = 0) -> FastText:
    """Trains FastText on tokenized sentences; one worker thread so that a seed fixes the result."""
    if not sentences:
        raise ValueError("no sentences to train word vectors on")
    model = FastText(
        vector_size=config.vector_size,
        sg=config.sg,
        window=config.window,
        min_count=config.min_count,
        min_n=config.min_n,
        max_n=config.max_n,
        bucket=config.bucket,
        seed=seed,
        workers=1,
        hashfxn=_stable_hash,
    )
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=config.epochs)
    return model


def load_word_vectors(path: str | Path, limit: int = 0) -> KeyedVectors:
    """Loads Facebook .bin or .bin.gz (with subwords) or word2vec-format .vec/.txt vectors, never a pickle."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such word-vector file")
    suffix = ".bin.gz" if path.name.lower().endswith(".bin.gz") else path.suffix.lower()
    try:
        if suffix == ".bin":
            return load_facebook_vectors(str(path))
        if suffix == ".bin.gz":
            # gensim reads gzip through smart_open, whose stream numpy cannot read matrices from.
            with tempfile.NamedTemporaryFile(suffix=".bin") as plain, gzip.open(path) as packed:
                shutil.copyfileobj(packed, plain)
                plain.flush()
                return load_facebook_vectors(plain.name)
        if suffix in (".vec", ".txt"):
            return KeyedVectors.load_word2vec_format(str(path), binary=False, limit=limit or None)
    except (ValueError, EOFError, UnicodeDecodeError, IndexError, AssertionError, OSError, struct.error) as err:
        raise ValueError(f"{path}: not a readable {suffix} word-vector file ({type(err).__name__}: {err})") from None
    raise ValueError(
        f"{path}: unsupported word-vector format {suffix!r}; use a Facebook .bin or a text .vec "
        "(gensim .model/.kv files are pickles and are not loaded)"
    )


@dataclasses.dataclass
class EncodingReport:
    """What happened to the words of a batch of captions."""

    captions: int = 0
    truncated: int = 0  # captions longer than max_words
    unknown: dict[str, int] = dataclasses.field(default_factory=dict)  # word -> count, no vector


class SentenceEncoder:
    """Turns captions into (max_words * dim,) float32 vectors of concatenated word vectors.

    `action_weight` scales the vectors of `action_words` (the author's proposed fix; 1.0 = off).
    """

    def __init__(self, vectors: KeyedVectors, max_words: int = 25, action_weight: float = 1.0, action_words=DEFAULT_ACTION_WORDS):
        self.vectors = vectors
        self.max_words = max_words
        self.action_weight = float(action_weight)
        self.action_words = frozenset(action_words)

    @property
    def dim(self) -> int:
        return self.vectors.vector_size

    @property
    def output_dim(self) -> int:
        return self.max_words * self.dim

    def has_vector(self, word: str) -> bool:
        """Facebook vectors have one for any word with an n-gram; .vec vectors only for their vocabulary."""
        return word in self.vectors.key_to_index or (getattr(self.vectors, "bucket", 0) > 0 and len(word) > 0)

    def encode(self, text, report: EncodingReport | None = None) -> np.ndarray:
        """(max_words * dim,) float32. Raises ValueError for a caption with no usable word."""
        words = tokenize(text)
        if not words:
            raise ValueError(f"caption {text!r} has no words")
        known = [w for w in words if self.has_vector(w)]
        unknown = [w for w in words if not self.has_vector(w)]
        if not known:
            raise ValueError(f"caption {text!r}: no word has a vector (unknown: {', '.join(unknown)})")
        if len(known) > self.max_words:
            warnings.warn(
                f"caption of {len(known)} words truncated to its first {self.max_words}: {' '.join(known[:self.max_words])!r} ...",
                stacklevel=2,
            )
        if report is not None:
            report.captions += 1
            report.truncated += len(known) > self.max_words
            for word in unknown:
                report.unknown[word] = report.unknown.get(word, 0) + 1
        known = known[: self.max_words]
        out = np.zeros((self.max_words, self.dim), np.float32)
        out[: len(known)] = np.stack([self.vectors[w] for w in known])
        if self.action_weight != 1.0:
            for i, word in enumerate(known):
                if word in self.action_words:
                    out[i] *= self.action_weight
        return out.reshape(-1)

    def encode_many(self, texts) -> tuple[np.ndarray, EncodingReport]:
        """(N, max_words * dim) float32 and a report; errors name the caption's position."""
        report = EncodingReport()
        out = np.zeros((len(texts), self.output_dim), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # truncations are counted in the report instead
            for i, text in enumerate(texts):
                try:
                    out[i] = self.encode(text, report)
                except ValueError as err:
                    raise ValueError(f"caption {i}: {err}") from None
        return out, report

    def nearest_words(self, vector: np.ndarray) -> list[str]:
        """Decodes a sentence vector: the most similar word per slot, stopping at zero padding."""
        words = []
        for chunk in np.asarray(vector, np.float32).reshape(self.max_words, self.dim):
            if np.linalg.norm(chunk) < 1e-3 * np.sqrt(self.dim):
                break
            words.append(self.vectors.similar_by_vector(chunk, topn=1)[0][0])
        return words

    def cache_key(self, vectors_id: str, texts) -> str:
        """Hash of everything that determines `encode_many(texts)`."""
        digest = hashlib.sha256()
        settings = {
            "vectors": vectors_id,
            "tokenizer": TOKENIZER_VERSION,
            "max_words": self.max_words,
            "dim": self.dim,
            "action_weight": self.action_weight,
            "action_words": sorted(self.action_words),
        }
        digest.update(json.dumps(settings, sort_keys=True).encode())
        for text in texts:
            digest.update(text.encode("utf-8") + b"\0")
        return digest.hexdigest()[:24]

    def encode_cached(self, texts, cache_dir: str | Path, vectors_id: str) -> np.ndarray:
        """`encode_many(texts)[0]`, stored in `cache_dir` as .npy keyed by `cache_key`."""
        path = Path(cache_dir) / f"sentences-{self.cache_key(vectors_id, texts)}.npy"
        if path.exists():
            return np.load(path, allow_pickle=False)
        matrix, report = self.encode_many(texts)
        if report.unknown:
            top = sorted(report.unknown.items(), key=lambda kv: -kv[1])[:10]
            warnings.warn(f"{sum(report.unknown.values())} words had no vector and were dropped, e.g. {top}", stacklevel=2)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npy")
        np.save(tmp, matrix, allow_pickle=False)
        os.replace(tmp, path)
        return matrix


def file_id(path: str | Path) -> str:
    """Content hash of a vectors file, the identity used in cache keys."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:24]


def prepare_word_vectors(config: WordVectorConfig, train_captions, out_path: str | Path, seed: int = 0) -> Path:
    """The vectors file a run uses: the user's `vectors_path`, or FastText trained on the captions
    and saved as Facebook .bin at `out_path` (kept if it already exists)."""
    if config.vectors_path:
        return Path(config.vectors_path)
    out_path = Path(out_path)
    if not out_path.exists():
        model = train_fasttext([tokenize(c) for c in train_captions], config, seed)
        out_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = out_path.with_name(out_path.name + ".tmp.bin")
        save_facebook_model(model, str(tmp))
        os.replace(tmp, out_path)
    return out_path


def compact_fasttext(src: str | Path, dst: str | Path) -> Path:
    """Writes the Facebook .bin `src` as gzipped .bin `dst` with every n-gram bucket that no
    vocabulary word hashes to set to zero.

    Training only updates the buckets of the vocabulary's n-grams; the others still hold gensim's
    random initialisation (|x| <= 1/dim). Zeroing them leaves every in-vocabulary vector unchanged
    bit for bit, removes only that noise from an unseen word's vector (the mean of its n-gram
    rows), and lets the file compress: 20,000 buckets of 300-d vectors shrink from 24 MB to ~1 MB.
    """
    model = load_facebook_model(str(src))
    trained = np.zeros(model.wv.bucket, bool)
    for buckets in model.wv.buckets_word:
        trained[buckets] = True
    model.wv.vectors_ngrams[~trained] = 0.0
    dst = Path(dst)
    tmp = dst.with_name(dst.name + ".tmp")
    with gzip.open(tmp, "wb") as out:
        save_facebook_model(model, out)  # gensim writes to a path or an open stream
    os.replace(tmp, dst)
    return dst


def sentence_encoder(config: WordVectorConfig, vectors_path: str | Path) -> SentenceEncoder:
    vectors = load_word_vectors(vectors_path, config.vec_limit)
    if vectors.vector_size != config.vector_size:
        raise ValueError(f"{vectors_path}: vectors have {vectors.vector_size} dimensions, config words.vector_size is {config.vector_size}")
    return SentenceEncoder(vectors, config.max_words, config.action_word_weight)

"""Caption/frame training batches for the joint embedding.

PairSampler, for the contrastive loss, samples pairs as the original author did. For each anchor
caption: 3 positives (its own clip's first frame, last frame and the 10th frame from the end) and
3 negatives (the first frame of 3 other clips). The original drew negatives from any other clip;
here they must also have another attribute combination, so that a "negative" never shows exactly
what its caption says. With `hard_negatives`, the other clips differ from the anchor in exactly
one attribute (where the dataset has such a clip).

ClipBatchSampler, for the in-batch (InfoNCE) loss, gives one caption and one key frame per clip;
the other clips of the batch are the negatives. With joint.clip_frames = K > 1 each clip has one
"key frame", K evenly spaced frames stacked on channels, which both samplers take as they are.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from keras_t2v.export import to_float


def key_frame_indices(num_frames: int) -> list[int]:
    """First, last and 10th-from-last frame (first/last/"one more" of the original)."""
    return [0, num_frames - 1, max(0, num_frames - 10)]


def clip_frame_indices(num_frames: int, count: int) -> list[int]:
    """`count` frames evenly spaced from the first to the last, for a frame tower that sees motion."""
    return np.linspace(0, num_frames - 1, count).round().astype(int).tolist()


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The order in which an epoch visits `count` clips: a permutation fixed by (seed, epoch)."""
    return np.random.default_rng([seed, epoch]).permutation(count)


class KeyFrames(NamedTuple):
    """The key frames of every clip of a split, in clip-index order."""

    frames: np.ndarray  # (N, K, S, S, 3) uint8: K = 3 at `key_frame_indices`, or (N, 1, S, S, 3K) from `stack_on_channels`
    keys: np.ndarray  # (N,) int64: clips with equal keys never make a mismatched pair
    attributes: np.ndarray  # (N, 5) int32 attribute indices, -1 for imported clips


def collect_key_frames(records: tf.data.Dataset, clip_frames: int = 1) -> KeyFrames:
    """Key frames, keys and attributes of the records, sorted by clip index (the order of the
    split's caption pool). With clip_frames = K > 1 (joint.clip_frames), the frames are K evenly spaced ones stacked on
    channels instead: (N, 1, S, S, 3K), one input that shows the clip's motion."""
    frames, keys, attributes, indices = [], [], [], []
    for batch in records.batch(64).prefetch(tf.data.AUTOTUNE):
        video = batch["video"].numpy()
        if clip_frames > 1:
            frames.append(stack_on_channels(video[:, clip_frame_indices(video.shape[1], clip_frames)]))
        else:
            frames.append(video[:, key_frame_indices(video.shape[1])])
        keys.append(batch["key"].numpy())
        attributes.append(batch["attributes"].numpy())
        indices.append(batch["index"].numpy())
    order = np.argsort(np.concatenate(indices), kind="stable")
    return KeyFrames(*(np.concatenate(x)[order] for x in (frames, keys, attributes)))


def stack_on_channels(frames: np.ndarray) -> np.ndarray:
    """(N, K, S, S, 3) -> (N, 1, S, S, 3K): frame k in channels 3k..3k+2."""
    n, k, s = frames.shape[:3]
    return np.moveaxis(frames, 1, 3).reshape(n, 1, s, s, 3 * k)


class PairSampler(keras.utils.PyDataset):
    """Batches ((sentences (P, D), frames (P, S, S, 3)), labels (P,)) of P = groups * 6 pairs.

    sentences: (N * 3, D) sentence vectors, row 3i + j = caption j of clip i.
    frames, keys, attributes: from `collect_key_frames`. An epoch shows every clip once as an anchor.
    """

    def __init__(self, sentences, frames, keys, attributes, groups: int, positives: int = 3, negatives: int = 3,
                 hard_negatives: bool = False, seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.sentences, self.frames, self.keys, self.attributes = sentences, frames, keys, attributes
        self.groups, self.positives, self.negatives = groups, positives, negatives
        self.hard_negatives = hard_negatives
        self.seed, self.epoch = seed, 0
        if hard_negatives:
            if (attributes < 0).any():
                raise ValueError("hard negatives need attribute labels (Captioned Moving Shapes); imported clips have none")
            self.one_off = self._one_attribute_neighbours(attributes)
        self._order = epoch_order(self.seed, 0, len(self.frames))

    @staticmethod
    def _one_attribute_neighbours(attributes):
        """Per clip, the clips whose attributes differ from it in exactly one attribute (may be
        empty in a small dataset; such anchors get an ordinary negative)."""
        combos, inverse = np.unique(attributes, axis=0, return_inverse=True)
        inverse = inverse.reshape(-1)
        neighbours = [np.flatnonzero(((combos != combo).sum(axis=1) == 1)[inverse]) for combo in combos]
        return [neighbours[i] for i in inverse]

    def __len__(self):
        return math.ceil(len(self.frames) / self.groups)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = epoch_order(self.seed, self.epoch, len(self.frames))

    def _negative(self, rng, anchor):
        if self.hard_negatives and len(self.one_off[anchor]):
            return int(rng.choice(self.one_off[anchor]))
        while True:
            other = int(rng.integers(len(self.frames)))
            if self.keys[other] != self.keys[anchor]:
                return other

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, self.epoch, index])
        anchors = self._order[index * self.groups : (index + 1) * self.groups]
        rows, frames, labels = [], [], []
        for anchor in anchors:
            row = 3 * anchor + int(rng.integers(3))
            for p in range(self.positives):
                rows.append(row)
                frames.append(self.frames[anchor, p % self.frames.shape[1]])
                labels.append(1.0)
            for _ in range(self.negatives):
                rows.append(row)
                frames.append(self.frames[self._negative(rng, anchor), 0])
                labels.append(0.0)
        return (self.sentences[rows], to_float(np.stack(frames))), np.array(labels, np.float32)


class ClipBatchSampler(keras.utils.PyDataset):
    """Batches ((sentences (B, D), frames (B, S, S, 3)), keys (B,)) of B clips: a random caption of
    each clip and a random one of its key frames. An epoch shows every clip once.

    sentences: (N * 3, D) sentence vectors, row 3i + j = caption j of clip i; frames, keys: from
    `collect_key_frames`. With `attributes` (N, 5) the targets are (keys (B,), attributes (B, 5)).
    """

    def __init__(self, sentences, frames, keys, batch_size: int, seed: int = 0, attributes=None, **kwargs):
        super().__init__(**kwargs)
        self.sentences, self.frames, self.keys, self.attributes = sentences, frames, keys, attributes
        self.batch_size, self.seed, self.epoch = batch_size, seed, 0
        self._order = epoch_order(self.seed, 0, len(self.frames))

    def __len__(self):
        return math.ceil(len(self.frames) / self.batch_size)

    def on_epoch_end(self):
        self.epoch += 1
        self._order = epoch_order(self.seed, self.epoch, len(self.frames))

    def __getitem__(self, index):
        clips = self._order[index * self.batch_size : (index + 1) * self.batch_size]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        rows = 3 * clips + rng.integers(3, size=len(clips))
        frames = self.frames[clips, rng.integers(self.frames.shape[1], size=len(clips))]
        targets = self.keys[clips] if self.attributes is None else (self.keys[clips], self.attributes[clips].astype(np.int32))
        return (self.sentences[rows], to_float(frames)), targets

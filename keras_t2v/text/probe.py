"""Does a text code keep the attributes apart? Distances between codes of caption pairs.

For N random attribute combinations, a caption of the combination is compared with a caption of
a combination that differs in exactly one attribute, and with one that differs in all five.
Each pair is drawn with the same random stream, so template and synonym slots line up as far as
possible and the distance mostly reflects the attribute words. A useful code puts one-attribute
pairs closer than five-attribute pairs, and no attribute (motion in particular) at distance 0.
"""

from __future__ import annotations

import numpy as np

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, NUM_VALUES
from keras_t2v.data.captions import make_caption


def caption_pairs(count: int, seed: int = 0):
    """(base captions, one-attribute captions, changed attribute per pair, five-attribute captions)."""
    rng = np.random.default_rng(seed)
    base, one, changed, five = [], [], [], []
    for _ in range(count):
        a = [int(rng.integers(n)) for n in NUM_VALUES]
        attribute = int(rng.integers(len(NUM_VALUES)))
        b1 = list(a)
        b1[attribute] = (a[attribute] + int(rng.integers(1, NUM_VALUES[attribute]))) % NUM_VALUES[attribute]
        b5 = [(v + int(rng.integers(1, n))) % n for v, n in zip(a, NUM_VALUES)]
        stream = int(rng.integers(2**31))
        base.append(make_caption(a, np.random.default_rng(stream)))
        one.append(make_caption(b1, np.random.default_rng(stream)))
        five.append(make_caption(b5, np.random.default_rng(stream)))
        changed.append(attribute)
    return base, one, np.array(changed), five


def attribute_distances(encode, count: int = 600, seed: int = 0) -> dict:
    """Mean Euclidean distances between codes: `encode(list of captions) -> (N, d) array`."""
    base, one, changed, five = caption_pairs(count, seed)
    za, z1, z5 = (np.asarray(encode(c), np.float64) for c in (base, one, five))
    d1 = np.linalg.norm(za - z1, axis=1)
    d5 = np.linalg.norm(za - z5, axis=1)
    return {
        "pairs": count,
        "one_attribute": float(d1.mean()),
        "all_five": float(d5.mean()),
        "ratio_one_to_five": float(d1.mean() / d5.mean()),
        "one_closer_than_five": float(np.mean(d1 < d5)),  # share of pairs
        "by_attribute": {name: float(d1[changed == i].mean()) for i, name in enumerate(ATTRIBUTE_NAMES)},
    }

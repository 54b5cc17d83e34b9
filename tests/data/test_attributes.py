import itertools

import numpy as np
import pytest

from keras_t2v.data.attributes import (
    NUM_COMBINATIONS,
    SPLITS,
    combination_index,
    is_held_out,
    split_combinations,
)
from keras_t2v.data.shapes import describe_clip


def test_counts():
    assert NUM_COMBINATIONS == 3 * 6 * 2 * 6 * 3 == 648
    held = [t for t in itertools.product(range(3), range(6), range(6)) if is_held_out(*t)]
    seen = split_combinations("train")
    unseen = split_combinations("test_unseen")
    assert len(unseen) == len(held) * 2 * 3
    assert len(seen) + len(unseen) == 648
    assert all(is_held_out(s, c, m) for s, c, _, m, _ in unseen)
    assert not any(is_held_out(s, c, m) for s, c, _, m, _ in seen)


def test_combination_index_is_a_bijection():
    indices = {combination_index(c) for c in itertools.product(range(3), range(6), range(2), range(6), range(3))}
    assert indices == set(range(648))


@pytest.mark.parametrize("split", SPLITS)
def test_splits_use_only_their_combinations(split):
    for index in range(600):
        s, c, _, m, _ = describe_clip(0, split, index).attributes
        assert is_held_out(s, c, m) == (split == "test_unseen")


def test_splits_cover_every_value():
    attrs = np.array([describe_clip(0, "train", i).attributes for i in range(2000)])
    for column, n in enumerate((3, 6, 2, 6, 3)):
        assert set(attrs[:, column]) == set(range(n))


def test_unknown_split():
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        split_combinations("dev")

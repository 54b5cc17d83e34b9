"""The five attributes of Captioned Moving Shapes and the held-out combination rule.

Index order is fixed by shared/specs/dataset.md; every label, caption and metric relies on it.
"""

import itertools

import numpy as np

SHAPES = ("circle", "square", "triangle")
COLORS = ("red", "yellow", "green", "cyan", "blue", "magenta")
SIZES = ("small", "large")
MOTIONS = ("left", "right", "up", "down", "left and right", "up and down")
BACKGROUNDS = ("dark", "gray", "striped")

ATTRIBUTE_NAMES = ("shape", "color", "size", "motion", "background")
FRAME_ATTRIBUTES = ("shape", "color", "size", "background")  # what a single frame shows
FRAME_COLUMNS = tuple(ATTRIBUTE_NAMES.index(a) for a in FRAME_ATTRIBUTES)  # their columns of an attributes array (N, 5)
ATTRIBUTE_VALUES = dict(zip(ATTRIBUTE_NAMES, (SHAPES, COLORS, SIZES, MOTIONS, BACKGROUNDS)))
NUM_VALUES = tuple(len(v) for v in ATTRIBUTE_VALUES.values())  # (3, 6, 2, 6, 3)
NUM_COMBINATIONS = int(np.prod(NUM_VALUES))  # 648

LEFT, RIGHT, UP, DOWN, LEFT_RIGHT, UP_DOWN = range(6)

SPLITS = ("train", "val", "test", "test_unseen")


def is_held_out(shape: int, color: int, motion: int) -> bool:
    """True for the (shape, color, motion) triples no training video uses ("unseen")."""
    return (shape + 2 * color + 3 * motion) % 5 == 0


def combination_index(attributes) -> int:
    """Mixed-radix index in [0, 648) of a (shape, color, size, motion, background) tuple."""
    return int(np.ravel_multi_index(tuple(int(a) for a in attributes), NUM_VALUES))


def split_combinations(split: str) -> np.ndarray:
    """All attribute tuples a split may use, shape (n, 5) int: seen ones, or held-out ones for test_unseen."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")
    want_unseen = split == "test_unseen"
    rows = [
        combo
        for combo in itertools.product(*(range(n) for n in NUM_VALUES))
        if is_held_out(combo[0], combo[1], combo[3]) == want_unseen
    ]
    return np.array(rows, dtype=np.int64)


def one_hot(attributes) -> np.ndarray:
    """(N, 5) attribute indices -> (N, 20) float32: the five one-hot codes side by side."""
    attributes = np.asarray(attributes)
    return np.concatenate([np.eye(n, dtype=np.float32)[attributes[:, i]] for i, n in enumerate(NUM_VALUES)], axis=1)

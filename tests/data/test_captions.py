import itertools

import numpy as np
import pytest

from keras_t2v.data import captions as C
from keras_t2v.data.attributes import ATTRIBUTE_NAMES, NUM_VALUES
from keras_t2v.data.captions import CaptionError, make_caption, make_captions, parse_caption

ALL_COMBINATIONS = list(itertools.product(*(range(n) for n in NUM_VALUES)))
VOCABULARY = {
    word
    for group in (C.SHAPE_WORDS, C.COLOR_WORDS, C.SIZE_WORDS, C.BACKGROUND_PHRASES)
    for phrases in group
    for phrase in phrases
    for word in phrase.split()
} | {w for finite, prog in C.MOTION_PHRASES for p in finite + prog for w in p.split()} | C.FILLER_WORDS


def test_spec_examples_parse():
    assert parse_caption("a small red circle moves left on a dark background") == (0, 0, 0, 0, 0)
    assert parse_caption("on a striped background a big blue box bounces up and down") == (1, 4, 1, 5, 2)
    assert parse_caption("the tiny green disk is sliding to the right over stripes") == (0, 2, 0, 1, 2)


def test_every_generated_caption_parses_back_and_every_phrase_is_used():
    rng = np.random.default_rng(0)
    used_phrases, used_templates = set(), set()
    for combo in ALL_COMBINATIONS:
        for caption in make_captions(combo, rng, 3) + [make_caption(combo, rng) for _ in range(12)]:
            assert parse_caption(caption) == combo, caption
            assert set(caption.rstrip(".").split()) <= VOCABULARY, caption
            assert caption == caption.lower() and "  " not in caption
            for phrase in C._PHRASES:
                if f" {' '.join(phrase)} " in f" {caption.rstrip('.')} ":
                    used_phrases.add(phrase)
            used_templates.add(_template_of(caption))
    assert used_phrases == set(C._PHRASES)
    assert len(used_templates) == len(C.TEMPLATES)


def _template_of(caption: str) -> int:
    text = caption.rstrip(".")
    if " while it is " in text:
        return 3
    if " it is " in text and " and it " in text:
        return 4
    if any(text.startswith(p) for b in C.BACKGROUND_PHRASES for p in b):
        return 1
    if any(text.endswith(p) for b in C.BACKGROUND_PHRASES for p in b):
        return 0
    return 2


def test_three_distinct_captions():
    rng = np.random.default_rng(1)
    for combo in ALL_COMBINATIONS[::7]:
        caps = make_captions(combo, rng, 3)
        assert len({c.rstrip(".") for c in caps}) == 3


@pytest.mark.parametrize("attribute", range(5))
def test_missing_attribute_is_named(attribute):
    words = {
        0: "circle", 1: "red", 2: "small", 3: "moves left", 4: "on a dark background",
    }
    caption = " ".join(["a"] + [words[a] for a in (2, 1, 0, 3, 4) if a != attribute])
    with pytest.raises(CaptionError, match=f"no words for {ATTRIBUTE_NAMES[attribute]}"):
        parse_caption(caption)


def test_unplaced_words_are_named():
    with pytest.raises(CaptionError, match=r"no words for background; could not place 'quickly', 'over', 'zebra', 'stripes'"):
        parse_caption("a small red circle moves left quickly over zebra stripes")
    # Lenient mode ignores extra words when every attribute is named.
    assert parse_caption("a small red circle moves left quickly on a dark background", strict=False) == (0, 0, 0, 0, 0)


def test_conflicting_values_are_named():
    with pytest.raises(CaptionError, match=r"color named twice \('red' and 'blue'\)"):
        parse_caption("a small red blue circle moves left on a dark background")


def test_longest_phrase_wins_and_case_and_period_are_ignored():
    assert parse_caption("A Big Cyan Ball moves left and right in the dark.")[3] == 4
    assert parse_caption("a big cyan ball moves left in the dark")[3] == 0


def test_empty_caption():
    with pytest.raises(CaptionError, match="no words for shape, color, size, motion, background"):
        parse_caption("   ")

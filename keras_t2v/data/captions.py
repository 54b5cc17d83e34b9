"""Caption templates for Captioned Moving Shapes and `parse_caption`, their inverse.

Captions use only the vocabulary of shared/specs/dataset.md: a phrase per attribute value plus
the filler words below. Templates vary the word order (background first, middle or last) and
the verb form ("moves left" / "is moving left"), and synonyms are drawn per caption.
"""

from __future__ import annotations

import numpy as np

from keras_t2v.data.attributes import ATTRIBUTE_NAMES
from keras_t2v.text.tokenizer import tokenize

SHAPE_WORDS = (("circle", "ball", "disk"), ("square", "box", "block"), ("triangle",))
COLOR_WORDS = (("red",), ("yellow",), ("green",), ("cyan",), ("blue",), ("magenta", "purple"))
SIZE_WORDS = (("small", "little", "tiny"), ("large", "big", "huge"))


def _linear(direction: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    d = direction
    finite = (f"moves {d}", f"slides to the {d}", f"goes {d}", f"travels {d}")
    progressive = (f"moving {d}", f"sliding to the {d}")
    return finite, progressive


# Per motion: (finite verb phrases, progressive phrases that follow "is").
MOTION_PHRASES = (
    _linear("left"),
    _linear("right"),
    (("moves up", "goes up", "rises", "floats up"), ("moving up", "rising")),
    (("moves down", "goes down", "falls", "drops", "sinks"), ("moving down", "falling")),
    (
        (
            "bounces left and right",
            "moves left and right",
            "moves back and forth horizontally",
            "swings from side to side",
        ),
        ("bouncing left and right",),
    ),
    (("bounces up and down", "moves up and down", "hops up and down"), ("bouncing up and down",)),
)
BACKGROUND_PHRASES = (
    ("on a dark background", "on a black background", "in the dark"),
    ("on a gray background", "on a grey background"),
    ("on a striped background", "over stripes"),
)
FILLER_WORDS = frozenset({"a", "an", "the", "is", "and", "it", "while", "across"})

# {np} = "<size> <color> <shape>", {vp} = a finite phrase or "is <progressive>", {bg} = background.
TEMPLATES = (
    "{det} {np} {vp} {bg}",
    "{bg} {det} {np} {vp}",
    "{det} {np} {bg} {vp}",
    "{det} {np} {vp} while it is {bg}",
    "{bg} it is {det} {np} and it {vp}",
)


def make_caption(attributes, rng: np.random.Generator) -> str:
    """One caption naming all five attributes, with template and synonyms drawn from `rng`."""
    shape, color, size, motion, background = (int(a) for a in attributes)

    def pick(options):
        return options[rng.integers(len(options))]

    noun_phrase = f"{pick(SIZE_WORDS[size])} {pick(COLOR_WORDS[color])} {pick(SHAPE_WORDS[shape])}"
    finite, progressive = MOTION_PHRASES[motion]
    if rng.random() < 0.5:
        verb_phrase = pick(finite)
    else:
        verb_phrase = "is " + pick(progressive)
    caption = pick(TEMPLATES).format(
        det=pick(("a", "the")),
        np=noun_phrase,
        vp=verb_phrase,
        bg=pick(BACKGROUND_PHRASES[background]),
    )
    return caption + "." if rng.random() < 0.25 else caption


def make_captions(attributes, rng: np.random.Generator, count: int = 3) -> list[str]:
    """`count` distinct captions of one video (distinct up to the optional final period)."""
    captions: list[str] = []
    seen: set[str] = set()
    for _ in range(100 * count):
        caption = make_caption(attributes, rng)
        if caption.rstrip(".") not in seen:
            seen.add(caption.rstrip("."))
            captions.append(caption)
            if len(captions) == count:
                return captions
    raise RuntimeError(f"could not draw {count} distinct captions for {tuple(attributes)}")


class CaptionError(ValueError):
    """A caption that does not name exactly one value of every attribute."""


def _phrase_table() -> dict[tuple[str, ...], tuple[int, int]]:
    """Token tuple -> (attribute index, value index), for every phrase of the vocabulary."""
    table: dict[tuple[str, ...], tuple[int, int]] = {}
    groups = (
        SHAPE_WORDS,
        COLOR_WORDS,
        SIZE_WORDS,
        tuple(finite + progressive for finite, progressive in MOTION_PHRASES),
        BACKGROUND_PHRASES,
    )
    for attribute, values in enumerate(groups):
        for value, phrases in enumerate(values):
            for phrase in phrases:
                table[tuple(phrase.split())] = (attribute, value)
    return table


_PHRASES = _phrase_table()
_LONGEST = max(len(k) for k in _PHRASES)


def parse_caption(text: str, strict: bool = True) -> tuple[int, int, int, int, int]:
    """Maps a caption back to its (shape, color, size, motion, background) indices.

    Phrases are matched longest first ("moves left and right" before "moves left"); filler words
    are skipped. Raises `CaptionError` naming the attributes nobody named, the attribute named
    twice with different values, and the words it could not place (with `strict=False`, words
    outside the vocabulary are ignored as long as all five attributes are named).
    """
    words = tokenize(text)
    found: dict[int, tuple[int, str]] = {}
    unplaced: list[str] = []
    conflicts: list[str] = []
    i = 0
    while i < len(words):
        for length in range(min(_LONGEST, len(words) - i), 0, -1):
            phrase = tuple(words[i : i + length])
            if phrase in _PHRASES:
                attribute, value = _PHRASES[phrase]
                said = " ".join(phrase)
                if attribute in found and found[attribute][0] != value:
                    conflicts.append(
                        f"{ATTRIBUTE_NAMES[attribute]} named twice ('{found[attribute][1]}' and '{said}')"
                    )
                found.setdefault(attribute, (value, said))
                i += length
                break
        else:
            if words[i] not in FILLER_WORDS:
                unplaced.append(words[i])
            i += 1
    missing = [name for a, name in enumerate(ATTRIBUTE_NAMES) if a not in found]
    if missing or conflicts or (unplaced and strict):
        problems = []
        if missing:
            problems.append("no words for " + ", ".join(missing))
        if unplaced:
            problems.append("could not place " + ", ".join(f"'{w}'" for w in unplaced))
        problems.extend(conflicts)
        raise CaptionError(f"caption {text!r}: " + "; ".join(problems))
    return tuple(found[a][0] for a in range(len(ATTRIBUTE_NAMES)))

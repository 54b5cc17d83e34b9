"""Captioned Moving Shapes: the procedural dataset of shared/specs/dataset.md.

Video `index` of split `split` is a pure function of `(seed, split, index)`: `describe_clip`
draws everything random (attributes, colour jitter, trajectory, captions) from
`numpy.random.default_rng([seed, split_id, index])` in units of the frame size, and
`render_clip` turns that description into pixels at any `size >= 16` and `frames >= 8`.
So a smaller preset is the same scene at lower resolution, and any shard can be regenerated
identically, in parallel or inside a tf.data pipeline.

Geometry uses continuous pixel coordinates: pixel (row i, column j) covers [j, j+1] x [i, i+1],
so a frame spans [0, S]. Objects are rasterised at 4 x 4 sub-pixels per pixel and averaged,
which gives anti-aliased edges with 1/16 coverage resolution.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from keras_t2v.data.attributes import (
    DOWN,
    LEFT,
    LEFT_RIGHT,
    RIGHT,
    SPLITS,
    UP,
    combination_index,
    split_combinations,
)
from keras_t2v.data.captions import make_captions

GENERATOR_VERSION = "1.0.0"

COLOR_RGB = np.array(
    [(230, 40, 40), (235, 215, 40), (40, 200, 60), (40, 205, 215), (50, 90, 240), (215, 50, 215)],
    dtype=np.float32,
)
COLOR_JITTER = 12  # per channel, per video, uniform integer in [-12, 12]
BACKGROUND_RGB = np.array([(20, 20, 28), (128, 128, 128)], dtype=np.float32)  # dark, gray
STRIPE_LIGHT, STRIPE_DARK = 165.0, 90.0
# Backgrounds are jittered by one grey level for all channels, so they stay unsaturated.
BACKGROUND_JITTER = 8
SIZE_EXTENT = (0.20, 0.34)  # object extent as a fraction of S: small, large
EDGE_SHARE = 0.15  # linear motions start/end within this share of [lo, hi]
BOUNCE_PATH = (1.5, 2.5)  # path length of bouncing motions, in units of hi - lo
SUPERSAMPLE = 4  # sub-pixels per pixel side for anti-aliasing


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    """Everything random about one video, independent of the rendering size.

    Positions are fractions of the frame size; `along[t]` is the coordinate on the motion axis
    at frame t sampled at `frames` points in [0, 1] of clip time (see `trajectory`).
    """

    seed: tuple[int, int, int]  # (dataset seed, split id, index)
    attributes: tuple[int, int, int, int, int]
    captions: tuple[str, str, str]
    color: tuple[int, int, int]
    background_shift: int
    cross: float  # position across the motion axis, fraction of [lo, hi]
    start: float  # linear: share of [lo, hi] from the start edge; bounce: fraction of [lo, hi]
    end: float  # linear: share from the end edge; bounce: path length in units of hi - lo
    direction: int  # bounce: initial direction, +1 or -1

    @property
    def key(self) -> int:
        """Index of the attribute combination, used to pick mismatched captions."""
        return combination_index(self.attributes)


def describe_clip(seed: int, split: str, index: int) -> ClipSpec:
    """Draws the description of video `index` of `split` (pure function of its arguments)."""
    split_id = SPLITS.index(split)
    rng = np.random.default_rng([seed, split_id, index])
    combos = split_combinations(split)
    attributes = tuple(int(a) for a in combos[rng.integers(len(combos))])
    color = np.clip(COLOR_RGB[attributes[1]] + rng.integers(-COLOR_JITTER, COLOR_JITTER + 1, 3), 0, 255)
    background_shift = int(rng.integers(-BACKGROUND_JITTER, BACKGROUND_JITTER + 1))
    cross = float(rng.uniform())
    if attributes[3] in (LEFT_RIGHT, LEFT_RIGHT + 1):
        start, end = float(rng.uniform()), float(rng.uniform(*BOUNCE_PATH))
        direction = int(rng.choice((-1, 1)))
    else:
        start, end = float(rng.uniform(0, EDGE_SHARE)), float(rng.uniform(0, EDGE_SHARE))
        direction = 1
    captions = tuple(make_captions(attributes, rng, 3))
    return ClipSpec(
        seed=(int(seed), split_id, int(index)),
        attributes=attributes,
        captions=captions,
        color=tuple(int(c) for c in color),
        background_shift=background_shift,
        cross=cross,
        start=start,
        end=end,
        direction=direction,
    )


def extent_pixels(spec: ClipSpec, size: int) -> float:
    """Object extent in pixels: square side, circle diameter, triangle base and height."""
    return SIZE_EXTENT[spec.attributes[2]] * size


def trajectory(spec: ClipSpec, size: int, frames: int) -> np.ndarray:
    """Object centre per frame, (frames, 2) float32 as (x, y) in pixels."""
    if size < 16 or frames < 8:
        raise ValueError(f"Captioned Moving Shapes needs size >= 16 and frames >= 8, got {size}, {frames}")
    half = extent_pixels(spec, size) / 2
    lo, hi = half, size - half
    span = hi - lo
    t = np.linspace(0.0, 1.0, frames)
    motion = spec.attributes[3]
    if motion in (LEFT, RIGHT, UP, DOWN):
        first = lo + spec.start * span
        last = hi - spec.end * span
        if motion in (LEFT, UP):  # decreasing coordinate: leave from the hi side
            first, last = size - first, size - last
        along = first + (last - first) * t
    else:
        unfolded = spec.start * span + spec.direction * spec.end * span * t
        folded = np.mod(unfolded, 2 * span)
        along = lo + np.where(folded <= span, folded, 2 * span - folded)
    cross = np.full(frames, lo + spec.cross * span)
    horizontal = motion in (LEFT, RIGHT, LEFT_RIGHT)
    x, y = (along, cross) if horizontal else (cross, along)
    return np.stack([x, y], axis=1).astype(np.float32)


def background_image(spec: ClipSpec, size: int) -> np.ndarray:
    """The static background, (size, size, 3) float32 in [0, 255]."""
    kind = spec.attributes[4]
    if kind < 2:
        image = np.broadcast_to(BACKGROUND_RGB[kind], (size, size, 3)).copy()
    else:
        period = max(2, int(np.floor(size / 8 + 0.5)))
        light_rows = (np.arange(size) % period) < period / 2
        levels = np.where(light_rows, STRIPE_LIGHT, STRIPE_DARK).astype(np.float32)
        image = np.broadcast_to(levels[:, None, None], (size, size, 3)).copy()
    return image + spec.background_shift


def object_alpha(shape: int, extent: float, centers: np.ndarray, size: int) -> np.ndarray:
    """Anti-aliased coverage of the object in every frame, (T, size, size) float32 in [0, 1].

    Each pixel is split into SUPERSAMPLE x SUPERSAMPLE sub-pixels whose centres are tested
    against the exact shape, and the coverage is their mean ("draw at 4x and downsample").
    Only a pixel-aligned patch around the object is evaluated per frame.
    """
    frames = len(centers)
    k, half = SUPERSAMPLE, extent / 2
    width = min(size, int(np.ceil(extent)) + 1)
    origin = np.clip(np.floor(centers - half), 0, size - width).astype(np.int64)  # (T, 2) as (x, y)
    offsets = (np.arange(width * k) + 0.5) / k
    x = (origin[:, 0, None] + offsets - centers[:, 0, None])[:, None, :]  # (T, 1, w*k)
    y = (origin[:, 1, None] + offsets - centers[:, 1, None])[:, :, None]  # (T, w*k, 1)
    if shape == 0:  # circle of diameter `extent`
        inside = x**2 + y**2 <= half**2
    elif shape == 1:  # axis-aligned square of side `extent`
        inside = (np.abs(x) <= half) & (np.abs(y) <= half)
    else:  # triangle pointing up: apex at y = -half, base of width `extent` at y = +half
        inside = (y <= half) & (np.abs(x) <= (y + half) / 2)
    patch = inside.reshape(frames, width, k, width, k).mean(axis=(2, 4), dtype=np.float32)
    alpha = np.zeros((frames, size, size), np.float32)
    rows = origin[:, 1, None] + np.arange(width)
    cols = origin[:, 0, None] + np.arange(width)
    alpha[np.arange(frames)[:, None, None], rows[:, :, None], cols[:, None, :]] = patch
    return alpha


@dataclasses.dataclass(frozen=True)
class Clip:
    """One rendered video and its labels."""

    spec: ClipSpec
    video: np.ndarray  # (T, S, S, 3) uint8
    centers: np.ndarray  # (T, 2) float32, object centre (x, y) in pixels
    boxes: np.ndarray  # (T, 4) float32, (x0, y0, x1, y1) in pixels


def _render(spec: ClipSpec, size: int, centers: np.ndarray) -> np.ndarray:
    """(len(centers), size, size, 3) uint8 frames with the object at `centers`."""
    extent = extent_pixels(spec, size)
    alpha = object_alpha(spec.attributes[0], extent, centers.astype(np.float64), size)[..., None]
    background = background_image(spec, size)[None]
    color = np.array(spec.color, np.float32)
    return np.clip(np.rint(background + alpha * (color - background)), 0, 255).astype(np.uint8)


def render_frame(spec: ClipSpec, size: int, frames: int = 32, t: int = 0) -> np.ndarray:
    """Frame `t` of the `frames`-frame video of `spec`, alone, at `size` x `size` (e.g. the first
    frame at 4x the clip size, the real images StackGAN Stage-II learns from)."""
    return _render(spec, size, trajectory(spec, size, frames)[t : t + 1])[0]


def render_clip(spec: ClipSpec, size: int = 64, frames: int = 32) -> Clip:
    """Renders the video described by `spec` as `frames` frames of `size` x `size` pixels."""
    centers = trajectory(spec, size, frames)
    extent = extent_pixels(spec, size)
    video = _render(spec, size, centers)
    half = extent / 2
    boxes = np.concatenate([centers - half, centers + half], axis=1).astype(np.float32)
    return Clip(spec=spec, video=video, centers=centers, boxes=boxes)


def make_clip(seed: int, split: str, index: int, size: int = 64, frames: int = 32) -> Clip:
    """Video `index` of `split`: `render_clip(describe_clip(seed, split, index), size, frames)`."""
    return render_clip(describe_clip(seed, split, index), size, frames)

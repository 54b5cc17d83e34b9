"""Rule-based motion classification from pixels: no learned model involved.

The static background is estimated as the per-pixel median over time; pixels far from it are the
object; its centroid trajectory is classified by rule:
- the motion axis is the one along which the centroid spans the larger range;
- a bounce reverses: the path travelled along the axis exceeds the net displacement by
  `BOUNCE_RATIO` (a linear motion's path equals its net displacement, a bounce's is >= 1.5x it);
- otherwise the sign of the net displacement gives left/right (x) or up/down (y, up = decreasing row).
The trajectory is median-filtered first (5 frames, 3 below 16 frames): where a slow, large object
covers a pixel for most of the clip, the median background holds the object for a frame or two.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from scipy.ndimage import median_filter

from keras_t2v.data.attributes import DOWN, LEFT, LEFT_RIGHT, RIGHT, UP, UP_DOWN

BOUNCE_RATIO = 1.3
OBJECT_THRESHOLD = 40  # grey levels (max over channels) away from the background


def object_centroids(frames: np.ndarray, background: np.ndarray) -> np.ndarray:
    """(N, S, S, 3) frames and a background that broadcasts to them -> (N, 2) centroid (x, y) in
    pixels of what differs from the background by more than OBJECT_THRESHOLD, weighted by how
    much; NaN where nothing does."""
    weight = np.abs(frames.astype(np.float32) - background).max(axis=-1)
    weight = np.where(weight > OBJECT_THRESHOLD, weight, 0.0)
    mass = weight.sum(axis=(1, 2))
    coords = np.arange(frames.shape[1]) + 0.5
    with np.errstate(invalid="ignore", divide="ignore"):
        x = (weight.sum(axis=1) * coords).sum(axis=1) / mass
        y = (weight.sum(axis=2) * coords).sum(axis=1) / mass
    return np.stack([x, y], axis=1)


def centroid_trajectory(video: np.ndarray) -> np.ndarray:
    """(T, S, S, 3) uint8 -> (T, 2) object centroid (x, y) in pixels; NaN where no object pixel.
    The background is the clip's median over time."""
    return object_centroids(video, np.median(video.astype(np.float32), axis=0))


def object_tracks(videos):
    """`centroid_trajectory` in TensorFlow for a batch, as training's input pipeline needs it:
    videos (B, T, S, S, 3) float in [-1, 1] -> (displacement (B, T, 2) of the object's centroid
    from frame 0 in fractions of the frame's width / height, seen (B, T) float: 1 where the object
    is found in frame t and in frame 0)."""
    frames = (tf.cast(videos, tf.float32) + 1.0) * 127.5
    steps, size = frames.shape[1], frames.shape[2]
    ordered = tf.sort(frames, axis=1)
    background = 0.5 * (ordered[:, (steps - 1) // 2] + ordered[:, steps // 2])  # numpy's median
    weight = tf.reduce_max(tf.abs(frames - background[:, None]), axis=-1)
    weight = tf.where(weight > OBJECT_THRESHOLD, weight, 0.0)  # (B, T, S, S)
    mass = tf.reduce_sum(weight, axis=(2, 3))
    coords = tf.range(size, dtype=tf.float32) + 0.5
    x = tf.reduce_sum(tf.reduce_sum(weight, axis=2) * coords, axis=-1) / tf.maximum(mass, 1e-6)
    y = tf.reduce_sum(tf.reduce_sum(weight, axis=3) * coords, axis=-1) / tf.maximum(mass, 1e-6)
    centers = tf.stack([x, y], axis=-1) / size
    seen = tf.cast(mass > 0, tf.float32)
    return centers - centers[:, :1], seen * seen[:, :1]


def classify_trajectory(centers: np.ndarray) -> int:
    """(T, 2) centroid (x, y) -> motion index (MOTIONS order); -1 when the object is never found."""
    valid = ~np.isnan(centers).any(axis=1)
    if valid.sum() < 2:
        return -1
    points = median_filter(centers[valid], size=(5 if valid.sum() >= 16 else 3, 1), mode="nearest")
    ranges = points.max(axis=0) - points.min(axis=0)
    axis = int(np.argmax(ranges))
    along = points[:, axis]
    path = np.abs(np.diff(along)).sum()
    net = along[-1] - along[0]
    if path > BOUNCE_RATIO * abs(net) + 1e-6:
        return LEFT_RIGHT if axis == 0 else UP_DOWN
    if axis == 0:
        return RIGHT if net > 0 else LEFT
    return DOWN if net > 0 else UP


def classify_motion(video: np.ndarray) -> int:
    """(T, S, S, 3) uint8 video -> motion index, or -1 when no object is visible."""
    return classify_trajectory(centroid_trajectory(video))

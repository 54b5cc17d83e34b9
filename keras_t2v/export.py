"""Writing videos out: animated GIF, MP4 and frame-strip images.

Frames are (T, H, W, 3) uint8, or float in [-1, 1] as the generators produce them.
"""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np


def to_uint8(frames) -> np.ndarray:
    """uint8 frames unchanged; float frames mapped from [-1, 1] to [0, 255]."""
    frames = np.asarray(frames)
    if frames.dtype == np.uint8:
        return frames
    return np.clip(np.rint((frames.astype(np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)


def to_float(frames) -> np.ndarray:
    """uint8 frames in [0, 255] -> float32 in [-1, 1], the range the networks work in."""
    return np.asarray(frames).astype(np.float32) / 127.5 - 1.0


def _check_video(frames: np.ndarray) -> np.ndarray:
    frames = to_uint8(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected frames of shape (T, H, W, 3), got {frames.shape}")
    return frames


def export_to_gif(frames, path: str | Path, fps: float = 8.0) -> Path:
    """Writes an endlessly looping animated GIF and returns its path."""
    frames = _check_video(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.mimsave(path, list(frames), format="GIF", duration=1000.0 / fps, loop=0)
    return path


def export_to_video(frames, path: str | Path, fps: float = 8.0) -> Path:
    """Writes an H.264 MP4 (through imageio-ffmpeg's bundled ffmpeg) and returns its path.

    Sizes that are not multiples of 16 are padded by ffmpeg's macro-block rule; 64x64 is exact.
    """
    frames = _check_video(frames)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", quality=8, macro_block_size=1) as writer:
        for frame in frames:
            writer.append_data(frame)
    return path


def frame_strip(videos, num_columns: int | None = None, gap: int = 1) -> np.ndarray:
    """A grid image: one row per video, `num_columns` frames evenly spaced in time per row.

    videos: (B, T, H, W, 3). Returns (B*H + (B-1)*gap, C*W + (C-1)*gap, 3) uint8, white gaps.
    """
    videos = to_uint8(videos)
    if videos.ndim == 4:
        videos = videos[None]
    b, t, h, w, _ = videos.shape
    columns = t if num_columns is None else min(num_columns, t)
    steps = np.linspace(0, t - 1, columns).round().astype(int)
    sheet = np.full((b * h + (b - 1) * gap, columns * w + (columns - 1) * gap, 3), 255, np.uint8)
    for i in range(b):
        for j, step in enumerate(steps):
            sheet[i * (h + gap) : i * (h + gap) + h, j * (w + gap) : j * (w + gap) + w] = videos[i, step]
    return sheet


def save_image(image: np.ndarray, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    imageio.imwrite(path, to_uint8(image))
    return path

"""Real video files written with OpenCV, laid out as the collections the importers read."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

# (fourcc, suffix, (width, height), fps, frames): several codecs, odd sizes, frame rates, short clips
VARIANTS = [
    ("MJPG", ".avi", (97, 61), 25.0, 40),
    ("XVID", ".avi", (120, 90), 30.0, 12),
    ("mp4v", ".mp4", (64, 80), 12.5, 20),
    ("FFV1", ".avi", (33, 47), 24.0, 3),
]


def moving_square_frames(width: int, height: int, count: int, color=(40, 200, 255)) -> list[np.ndarray]:
    """BGR frames of a square sliding right over a gray background."""
    side = max(4, min(width, height) // 4)
    frames = []
    for t in range(count):
        frame = np.full((height, width, 3), 90, np.uint8)
        x = int((width - side) * t / max(1, count - 1))
        y = (height - side) // 2
        frame[y : y + side, x : x + side] = color
        frames.append(frame)
    return frames


def write_video(path: Path, fourcc: str, size: tuple[int, int], fps: float, count: int, color=(40, 200, 255)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    assert writer.isOpened(), f"OpenCV cannot write {fourcc} {path}"
    for frame in moving_square_frames(*size, count, color):
        writer.write(frame)
    writer.release()
    return path


def clip_name(movie: str, k: int) -> str:
    return f"{movie}_00.00.{10 + 3 * k:02d}.000-00.00.{12 + 3 * k:02d}.500"


def make_mpii(root: Path) -> dict:
    """An MPII-MD root with two movies, clips in every VARIANT, broken clips and broken annotation
    lines. Returns what a correct import must report."""
    movies = ["0001_Movie_A", "0002_Movie_B"]
    lines: list[bytes] = []
    good = []
    for m, movie in enumerate(movies):
        for k, (fourcc, suffix, size, fps, count) in enumerate(VARIANTS):
            clip = clip_name(movie, k)
            write_video(root / movie / f"{clip}{suffix}", fourcc, size, fps, count)
            lines.append(f"{clip}\tSOMEONE walks to the door number {k}.\n".encode())
            good.append(clip)
    # several sentences for one clip
    lines.append(f"{clip_name(movies[0], 0)}\tSOMEONE looks \"around\".\n".encode())
    broken = {}
    zero = clip_name(movies[1], 7)
    (root / movies[1] / f"{zero}.avi").write_bytes(b"")
    broken[zero] = "zero-byte file"
    garbage = clip_name(movies[1], 8)
    (root / movies[1] / f"{garbage}.avi").write_bytes(np.random.default_rng(0).bytes(4096))
    broken[garbage] = "random bytes"
    for clip in broken:
        lines.append(f"{clip}\tSOMEONE runs away.\n".encode())
    lines.append(f"{clip_name(movies[0], 9)}\tSOMEONE sits down.\n".encode())  # no such clip
    lines.append(b"not-a-clip\twith\tthree columns\n")
    lines.append(f"{clip_name(movies[0], 1)}\t   \n".encode())  # empty caption
    lines.append(f"{clip_name(movies[0], 2)}\tSOMEONE caf\xe9\n".encode("latin-1"))  # not UTF-8
    (root / "annotations-someone.csv").write_bytes(b"".join(lines))
    (root / "dataSplit.txt").write_text(f"{movies[0]}\ttraining\n{movies[1]}\tvalidation\n")
    return {"good": good, "broken": broken, "movies": movies}

"""Real captioned video collections: annotation readers, clip decoding and preprocessing.

Every reader turns a collection into `ClipItem`s (where the frames are, the captions, the split,
the source times) plus `Skipped` entries for annotation lines it could not use, so an import goes
on past bad input and can report every item it left out. Formats (reference section 6 and 2.6):

    mpii     <root>/<movie>/<clip>.avi (or a <clip>/ frame folder), annotations-someone.csv or
             annotations-original.csv: tab separated "clip<TAB>sentence"; optional dataSplit.txt
             "movie<TAB>training|validation|test"
    lsmdc    LSMDC 2016 files: six tab-separated columns (clip id, aligned start/end, extracted
             start/end, sentence), a clip id may repeat; read without quote handling
    frames   MPII-MD annotations with per-clip frame folders <root>/<movie>/<clip>/0001.jpg, ...
    csv      a CSV (header "video,caption[,split]") of video paths relative to the CSV file
    stacked  VGAN clips: one image of vertically stacked square frames per line of a list file,
             "path[<TAB>caption]"

`load_clip` decodes one item with OpenCV, centre crops every frame to a square and resizes it
with area interpolation; `sample_frames` takes T of them (uniformly, or at a stride from the
start, repeating the last frame of a short clip as VGAN does); `stabilize` warps a clip into its
first frame's coordinates as VGAN's preprocessing did (SIFT, Lowe ratio 0.7, RANSAC homography).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import math
import re
from pathlib import Path

import cv2
import numpy as np

FORMATS = ("mpii", "lsmdc", "frames", "csv", "stacked")
SPLIT_NAMES = {"training": "train", "train": "train", "validation": "val", "val": "val", "test": "test"}
VIDEO_SUFFIXES = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".mpg", ".mpeg")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
TIME = re.compile(r"^(\d+)\.(\d+)\.(\d+)\.(\d+)$")  # hh.mm.ss.mmm


@dataclasses.dataclass(frozen=True)
class ClipItem:
    """One clip to import: where its frames are and what describes it."""

    clip_id: str
    path: str  # a video file, a frame folder or a stacked image
    kind: str  # "video" | "frames" | "stacked"
    captions: tuple[str, ...]
    split: str  # "train" | "val" | "test"
    movie: str = ""
    start: float = math.nan  # seconds in the source movie (from the clip name or the annotation)
    end: float = math.nan
    where: str = ""  # "annotation file:line" it came from


@dataclasses.dataclass(frozen=True)
class Skipped:
    """An item left out of an import and why (`item` names the file and line or the clip)."""

    item: str
    reason: str


class ClipError(ValueError):
    """A clip that cannot be imported; the message is the reason recorded in the report."""


# --------------------------------------------------------------------------------- annotations


def parse_time(text: str) -> float:
    """Seconds of an MPII-MD/LSMDC time stamp 'hh.mm.ss.mmm' (NaN when it is not one)."""
    match = TIME.match(text.strip())
    if not match:
        return math.nan
    h, m, s, ms = (int(g) for g in match.groups())
    return h * 3600 + m * 60 + s + ms / 10 ** len(match.group(4))


def clip_movie_and_times(clip_id: str) -> tuple[str, float, float]:
    """'0001_American_Beauty_00.00.51.926-00.00.54.129' -> ('0001_American_Beauty', 51.926, 54.129)."""
    movie, _, span = clip_id.rpartition("_")
    start, _, end = span.partition("-")
    return (movie or clip_id), parse_time(start), parse_time(end)


def default_split(clip_id: str, val_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """A stable split from a hash of the clip id, for collections that come without one."""
    u = int.from_bytes(hashlib.sha256(clip_id.encode("utf-8")).digest()[:8], "big") / 2**64
    return "val" if u < val_fraction else "test" if u < val_fraction + test_fraction else "train"


def read_lines(path: str | Path, skipped: list[Skipped]):
    """("file:line", text) of every non-empty line; a line that is not UTF-8 is recorded in
    `skipped` with its file and line number instead."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as err:
                skipped.append(Skipped(where, f"not valid UTF-8 ({err.reason} at byte {err.start})"))
                continue
            if line.strip():
                yield where, line


def read_tab_lines(path: str | Path, columns: int, skipped: list[Skipped]):
    """("file:line", fields) of every usable line of a tab-separated file without quote handling.

    Lines that are not UTF-8, have another number of columns or an empty last field (the
    sentence) are recorded in `skipped` with the file and line number.
    """
    for where, line in read_lines(path, skipped):
        fields = line.split("\t")
        if len(fields) != columns:
            skipped.append(Skipped(where, f"malformed line: {len(fields)} tab-separated columns, expected {columns}"))
        elif not fields[-1].strip():
            skipped.append(Skipped(where, "empty caption"))
        else:
            yield where, [f.strip() for f in fields]


def read_split_file(path: str | Path | None) -> dict[str, str]:
    """movie -> train/val/test from an MPII-MD dataSplit.txt (empty when there is none)."""
    if path is None or not Path(path).exists():
        return {}
    splits = {}
    for line in Path(path).read_text(encoding="utf-8", errors="replace").splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[-1].lower() in SPLIT_NAMES:
            splits[fields[0]] = SPLIT_NAMES[fields[-1].lower()]
    return splits


def find_clip(root: Path, movie: str, clip_id: str, prefer: str = "video") -> tuple[str, str] | None:
    """(path, kind) of a clip's video file or frame folder under `root`, or None when neither exists."""
    folders = [root / movie / clip_id, root / "jpgAllFrames" / movie / clip_id, root / clip_id]
    videos = [d / f"{clip_id}{suffix}" for d in (root / movie, root) for suffix in VIDEO_SUFFIXES]
    found_video = next((str(p) for p in videos if p.is_file()), None)
    found_frames = next((str(p) for p in folders if p.is_dir()), None)
    order = [(found_frames, "frames"), (found_video, "video")] if prefer == "frames" else [(found_video, "video"), (found_frames, "frames")]
    return next(((p, k) for p, k in order if p is not None), None)


def _group_by_clip(rows) -> dict[str, dict]:
    """Merges annotation rows (clip id, sentence, where, extra) of one clip, keeping first-seen order."""
    clips: dict[str, dict] = {}
    for clip_id, sentence, where, extra in rows:
        entry = clips.setdefault(clip_id, {"captions": [], "where": where, **extra})
        if sentence not in entry["captions"]:
            entry["captions"].append(sentence)
    return clips


def _resolve(root: Path, clips: dict[str, dict], split_of, prefer: str, skipped: list[Skipped]) -> list[ClipItem]:
    items = []
    for clip_id, entry in clips.items():
        movie, start, end = clip_movie_and_times(clip_id)
        found = find_clip(root, movie, clip_id, prefer)
        if found is None:
            skipped.append(Skipped(f"{entry['where']} ({clip_id})", "no video file or frame folder for this clip"))
            continue
        items.append(ClipItem(
            clip_id, found[0], found[1], tuple(entry["captions"]), split_of(clip_id, movie, entry), movie,
            entry.get("start", start), entry.get("end", end), entry["where"],
        ))
    return items


def mpii_items(root: str | Path, annotations: str | Path | None = None, split_file: str | Path | None = None,
               prefer: str = "video") -> tuple[list[ClipItem], list[Skipped]]:
    """Clips of an MPII-MD root. The annotation file defaults to annotations-someone.csv (then
    annotations-original.csv), the split to dataSplit.txt (then a hash of the clip id)."""
    root = Path(root)
    if annotations is None:
        annotations = next((root / n for n in ("annotations-someone.csv", "annotations-original.csv") if (root / n).exists()), None)
        if annotations is None:
            raise FileNotFoundError(f"{root}: no annotations-someone.csv or annotations-original.csv (pass --annotations)")
    splits = read_split_file(split_file if split_file is not None else root / "dataSplit.txt")
    skipped: list[Skipped] = []
    rows = ((f[0], f[1], where, {}) for where, f in read_tab_lines(annotations, 2, skipped))
    clips = _group_by_clip(rows)
    return _resolve(root, clips, lambda clip_id, movie, _: splits.get(movie) or default_split(clip_id), prefer, skipped), skipped


def lsmdc_items(root: str | Path, annotation_files) -> tuple[list[ClipItem], list[Skipped]]:
    """Clips of LSMDC 2016 annotation files; the split comes from each file's name
    (LSMDC16_annos_training / _val / _test), else from a hash of the clip id."""
    root = Path(root)
    skipped: list[Skipped] = []
    rows = []
    for path in annotation_files:
        name = Path(path).name.lower()
        split = next((s for key, s in (("train", "train"), ("val", "val"), ("test", "test")) if key in name), None)
        for where, f in read_tab_lines(path, 6, skipped):
            rows.append((f[0], f[5], where, {"start": parse_time(f[3]), "end": parse_time(f[4]), "split": split}))
    clips = _group_by_clip(rows)
    return _resolve(root, clips, lambda clip_id, movie, e: e["split"] or default_split(clip_id), "video", skipped), skipped


def _kind_of(path: Path) -> str:
    if path.is_dir():
        return "frames"
    return "stacked" if path.suffix.lower() in IMAGE_SUFFIXES else "video"


def csv_items(csv_path: str | Path) -> tuple[list[ClipItem], list[Skipped]]:
    """Clips of a CSV with a header naming the columns video, caption and (optional) split."""
    csv_path = Path(csv_path)
    skipped: list[Skipped] = []
    items = []
    try:
        text = csv_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ClipError(f"{csv_path}: not valid UTF-8 ({err.reason} at byte {err.start})") from None
    reader = csv.DictReader(text.splitlines())
    missing = {"video", "caption"} - set(reader.fieldnames or [])
    if missing:
        raise ClipError(f"{csv_path}:1: the header must name the columns video and caption (missing: {sorted(missing)})")
    seen: set[str] = set()
    for row in reader:
        where = f"{csv_path}:{reader.line_num}"
        video, caption = (row.get("video") or "").strip(), (row.get("caption") or "").strip()
        split = (row.get("split") or "").strip().lower()
        if not video:
            skipped.append(Skipped(where, "no video path"))
        elif not caption:
            skipped.append(Skipped(where, "empty caption"))
        elif split and split not in SPLIT_NAMES:
            skipped.append(Skipped(where, f"unknown split {split!r} (expected train, val or test)"))
        elif video in seen:
            skipped.append(Skipped(where, f"video {video} is listed twice"))
        else:
            seen.add(video)
            path = (csv_path.parent / video).resolve()
            if not path.exists():
                skipped.append(Skipped(where, f"missing file {path}"))
                continue
            items.append(ClipItem(video, str(path), _kind_of(path), (caption,), SPLIT_NAMES.get(split) or default_split(video), where=where))
    return items, skipped


def stacked_items(list_file: str | Path, caption: str = "") -> tuple[list[ClipItem], list[Skipped]]:
    """VGAN clips from a list file: one "path[<TAB>caption]" per line, paths relative to the list.
    Lines without a caption get `caption` (VGAN's own lists have none), or are skipped."""
    list_file = Path(list_file)
    skipped: list[Skipped] = []
    items = []
    for where, line in read_lines(list_file, skipped):
        path_text, _, text = line.partition("\t")
        path_text = path_text.split()[0]
        text = text.strip() or caption.strip()
        path = (list_file.parent / path_text).resolve()
        if not text:
            skipped.append(Skipped(where, "empty caption"))
        elif not path.is_file():
            skipped.append(Skipped(where, f"missing file {path}"))
        else:
            items.append(ClipItem(path_text, str(path), "stacked", (text,), default_split(path_text), where=where))
    return items, skipped


def read_collection(fmt: str, source: str | Path, annotations=None, split_file=None, caption: str = "") -> tuple[list[ClipItem], list[Skipped]]:
    """Items and skipped annotation lines of a collection in format `fmt` (see FORMATS).

    source: the root folder (mpii, lsmdc, frames), the CSV file (csv) or the list file (stacked).
    annotations: an annotation file (mpii, frames) or a list of them (lsmdc, required).
    """
    if fmt in ("mpii", "frames"):
        return mpii_items(source, annotations, split_file, prefer="frames" if fmt == "frames" else "video")
    if fmt == "lsmdc":
        if not annotations:
            raise ValueError("--format lsmdc needs --annotations (one or more LSMDC16_annos_*.csv files)")
        return lsmdc_items(source, [annotations] if isinstance(annotations, (str, Path)) else annotations)
    if fmt == "csv":
        return csv_items(source)
    if fmt == "stacked":
        return stacked_items(source, caption)
    raise ValueError(f"unknown format {fmt!r}; expected one of {FORMATS}")


def filter_items(items: list[ClipItem], movies=None, keywords=None) -> list[ClipItem]:
    """Items of the listed movies (None: all) whose captions hold one of the keywords (None: all)."""
    if movies:
        movies = set(movies)
        items = [i for i in items if i.movie in movies]
    if keywords:
        pattern = re.compile(r"\b(" + "|".join(re.escape(k.lower()) for k in keywords) + r")\b")
        items = [i for i in items if any(pattern.search(c.lower()) for c in i.captions)]
    return items


# --------------------------------------------------------------------------------- frames


def square_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """Centre crop (H, W, 3) to a square and resize it to (size, size, 3) with area interpolation."""
    h, w = frame.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = frame[top : top + side, left : left + side]
    interpolation = cv2.INTER_AREA if side >= size else cv2.INTER_LINEAR
    return cv2.resize(crop, (size, size), interpolation=interpolation)


def _video_frames(path: str):
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise ClipError(f"cannot open video {path} (unreadable or unknown codec)")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                return
            yield frame
    finally:
        capture.release()


def _folder_frames(path: str):
    files = sorted(p for p in Path(path).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    for file in files:
        frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
        if frame is None:
            raise ClipError(f"unreadable frame {file}")
        yield frame


def _stacked_frames(path: str):
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ClipError(f"unreadable image {path}")
    h, w = image.shape[:2]
    if h % w:
        raise ClipError(f"{path}: height {h} is not a multiple of width {w} (frames must be stacked vertically)")
    yield from (image[k * w : (k + 1) * w] for k in range(h // w))


def load_clip(item: ClipItem, size: int, max_frames: int = 0) -> np.ndarray:
    """All frames of a clip (N, size, size, 3) uint8 RGB, each centre cropped and resized as it is
    decoded (so a long HD clip never sits in memory at full size). Raises ClipError with a reason."""
    source = {"video": _video_frames, "frames": _folder_frames, "stacked": _stacked_frames}[item.kind]
    if item.kind != "video" and not Path(item.path).exists():
        raise ClipError(f"missing {item.path}")
    frames = []
    for frame in source(item.path):
        frames.append(cv2.cvtColor(square_resize(frame, size), cv2.COLOR_BGR2RGB))
        if max_frames and len(frames) >= max_frames:
            break
    if not frames:
        raise ClipError(f"no frames decoded from {item.path} (empty, truncated or corrupt)")
    return np.stack(frames)


def sample_frames(frames: np.ndarray, num_frames: int, stride: int = 0) -> np.ndarray:
    """T frames of (N, S, S, 3): with stride 0 spread uniformly over the clip, else every
    `stride`-th frame from the start; a clip too short repeats its last frame (as VGAN's loader)."""
    n = len(frames)
    if stride:
        index = np.arange(0, n, stride)[:num_frames]
    else:
        index = np.round(np.linspace(0, n - 1, min(n, num_frames))).astype(int)
    index = np.concatenate([index, np.full(num_frames - len(index), index[-1])]).astype(int)
    return frames[index]


def stabilize(frames: np.ndarray, min_matches: int = 10, ratio: float = 0.7, threshold: float = 5.0) -> np.ndarray:
    """Warps every frame of (N, S, S, 3) uint8 into the first frame's coordinates (VGAN's
    stabilisation): SIFT keypoints, FLANN kNN with Lowe's ratio test, a RANSAC homography between
    consecutive frames accumulated over time; pixels outside the warped frame keep the previous
    output frame. Raises ClipError when two frames cannot be matched or the warp degenerates."""
    sift = cv2.SIFT_create()
    matcher = cv2.FlannBasedMatcher({"algorithm": 1, "trees": 5}, {"checks": 50})
    gray = lambda f: cv2.cvtColor(f, cv2.COLOR_RGB2GRAY)  # noqa: E731
    size = frames.shape[2], frames.shape[1]
    previous_kp, previous_desc = sift.detectAndCompute(gray(frames[0]), None)
    to_first = np.eye(3)
    out = [frames[0]]
    for t in range(1, len(frames)):
        kp, desc = sift.detectAndCompute(gray(frames[t]), None)
        if desc is None or previous_desc is None or len(kp) < 2 or len(previous_kp) < 2:
            raise ClipError(f"stabilisation failed at frame {t}: too few keypoints")
        pairs = matcher.knnMatch(desc, previous_desc, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < ratio * p[1].distance]
        if len(good) < min_matches:
            raise ClipError(f"stabilisation failed at frame {t}: {len(good)} good matches < {min_matches}")
        src = np.float32([kp[m.queryIdx].pt for m in good])
        dst = np.float32([previous_kp[m.trainIdx].pt for m in good])
        step, _ = cv2.findHomography(src, dst, cv2.RANSAC, threshold)
        if step is None:
            raise ClipError(f"stabilisation failed at frame {t}: no homography")
        to_first = to_first @ step
        warped = cv2.warpPerspective(frames[t], to_first, size, borderMode=cv2.BORDER_CONSTANT)
        covered = cv2.warpPerspective(np.ones(frames.shape[1:3], np.uint8), to_first, size)
        if covered.mean() < 0.5:
            raise ClipError(f"stabilisation failed at frame {t}: the warp leaves the frame")
        out.append(np.where(covered[..., None] > 0, warped, out[-1]))
        previous_kp, previous_desc = kp, desc
    return np.stack(out)


def prepare_clip(item: ClipItem, size: int, num_frames: int, stride: int = 0, min_frames: int = 1,
                 stabilize_frames: bool = False, stabilize_size: int = 128) -> np.ndarray:
    """The (T, S, S, 3) uint8 clip of an item: decoded, optionally stabilised, sampled, resized."""
    work = max(size, stabilize_size) if stabilize_frames else size
    frames = load_clip(item, work)
    if len(frames) < min_frames:
        raise ClipError(f"too short: {len(frames)} frames < {min_frames}")
    if stabilize_frames:
        frames = stabilize(frames)
    clip = sample_frames(frames, num_frames, stride)
    if work != size:
        clip = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in clip])
    return clip

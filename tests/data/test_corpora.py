import math

import cv2
import numpy as np
import pytest

from keras_t2v.data.corpora import (
    ClipError,
    ClipItem,
    clip_movie_and_times,
    csv_items,
    filter_items,
    load_clip,
    lsmdc_items,
    mpii_items,
    parse_time,
    prepare_clip,
    sample_frames,
    square_resize,
    stabilize,
    stacked_items,
)
from tests.video_files import VARIANTS, make_mpii, moving_square_frames, write_video


def test_clip_names_give_movie_and_times():
    movie, start, end = clip_movie_and_times("0001_American_Beauty_00.00.51.926-00.00.54.129")
    assert movie == "0001_American_Beauty"
    assert start == pytest.approx(51.926) and end == pytest.approx(54.129)
    assert parse_time("01.02.03.5") == pytest.approx(3723.5)
    assert math.isnan(parse_time("later"))


@pytest.mark.parametrize("fourcc,suffix,size,fps,count", VARIANTS)
def test_every_codec_and_size_decodes_to_square_rgb_frames(tmp_path, fourcc, suffix, size, fps, count):
    path = write_video(tmp_path / f"clip{suffix}", fourcc, size, fps, count, color=(0, 0, 255))  # BGR red
    frames = load_clip(ClipItem("c", str(path), "video", ("x",), "train"), 16)
    assert frames.shape == (count, 16, 16, 3) and frames.dtype == np.uint8
    red = (frames[..., 0].astype(int) - frames[..., 2]) > 100  # RGB order: red is channel 0
    visible = np.flatnonzero(red.any(axis=(1, 2)))  # the centre crop hides the square at the edges
    assert len(visible) >= count // 3
    column = lambda f: np.argwhere(red[f])[:, 1].mean()  # noqa: E731
    assert column(visible[-1]) > column(visible[0])  # it moves right


def test_broken_videos_raise_clip_errors_naming_the_file(tmp_path):
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(np.random.default_rng(0).bytes(2048))
    no_frames = tmp_path / "no_frames.avi"
    cv2.VideoWriter(str(no_frames), cv2.VideoWriter_fourcc(*"MJPG"), 25, (32, 32)).release()
    for path in (empty, garbage, no_frames, tmp_path / "missing.avi"):
        with pytest.raises(ClipError, match=str(path.name)):
            load_clip(ClipItem("c", str(path), "video", ("x",), "train"), 16)


def test_frame_folders_and_stacked_images(tmp_path):
    frames = moving_square_frames(40, 30, 5)
    folder = tmp_path / "clip"
    folder.mkdir()
    for t, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{t + 1:04d}.jpg"), frame)
    assert load_clip(ClipItem("c", str(folder), "frames", ("x",), "train"), 8).shape == (5, 8, 8, 3)
    stacked = tmp_path / "stacked.png"
    cv2.imwrite(str(stacked), np.concatenate([square_resize(f, 32) for f in frames]))  # (5*32, 32)
    clip = load_clip(ClipItem("s", str(stacked), "stacked", ("x",), "train"), 32)
    np.testing.assert_array_equal(clip, [cv2.cvtColor(square_resize(f, 32), cv2.COLOR_BGR2RGB) for f in frames])
    cv2.imwrite(str(stacked), np.zeros((50, 32, 3), np.uint8))
    with pytest.raises(ClipError, match="not a multiple"):
        load_clip(ClipItem("s", str(stacked), "stacked", ("x",), "train"), 32)
    (folder / "0003.jpg").write_bytes(b"broken")
    with pytest.raises(ClipError, match="0003.jpg"):
        load_clip(ClipItem("c", str(folder), "frames", ("x",), "train"), 8)


def test_square_resize_crops_the_centre():
    frame = np.zeros((20, 40, 3), np.uint8)
    frame[:, 10:30] = 255  # the centre 20x20 square
    assert square_resize(frame, 10).min() == 255


def test_sample_frames_uniform_stride_and_repeat_last():
    frames = np.arange(10)[:, None, None, None] * np.ones((1, 2, 2, 3), np.uint8)
    first = lambda clip: clip[:, 0, 0, 0].tolist()  # noqa: E731
    assert first(sample_frames(frames, 4)) == [0, 3, 6, 9]
    assert first(sample_frames(frames, 4, stride=2)) == [0, 2, 4, 6]
    assert first(sample_frames(frames, 7, stride=3)) == [0, 3, 6, 9, 9, 9, 9]
    assert first(sample_frames(frames[:3], 5)) == [0, 1, 2, 2, 2]


def test_stabilize_undoes_camera_shake():
    rng = np.random.default_rng(0)
    scene = cv2.GaussianBlur(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), (5, 5), 0)
    shifts = [(0, 0), (3, 1), (6, 4), (4, 8), (9, 5)]
    frames = np.stack([scene[30 + dy : 158 + dy, 30 + dx : 158 + dx] for dx, dy in shifts])
    steady = stabilize(frames)
    inner = np.s_[1:, 20:-20, 20:-20]
    shaky_error = np.abs(frames.astype(int) - frames[:1])[inner].mean()
    steady_error = np.abs(steady.astype(int) - steady[:1])[inner].mean()
    assert steady_error < 0.2 * shaky_error
    with pytest.raises(ClipError, match="stabilisation failed"):
        stabilize(np.zeros((3, 64, 64, 3), np.uint8))  # nothing to match


def test_prepare_clip_checks_length_and_resizes_after_stabilising(tmp_path):
    path = write_video(tmp_path / "c.avi", "MJPG", (97, 61), 25, 6)
    item = ClipItem("c", str(path), "video", ("x",), "train")
    assert prepare_clip(item, 16, 8).shape == (8, 16, 16, 3)
    with pytest.raises(ClipError, match="too short: 6 frames < 10"):
        prepare_clip(item, 16, 8, min_frames=10)


def test_mpii_annotations_skip_bad_lines_with_file_and_line(tmp_path):
    expected = make_mpii(tmp_path)
    items, skipped = mpii_items(tmp_path)
    annotations = tmp_path / "annotations-someone.csv"
    assert sorted(i.clip_id for i in items) == sorted(expected["good"] + list(expected["broken"]))
    reasons = {s.item: s.reason for s in skipped}
    assert "no video file" in next(r for i, r in reasons.items() if i.startswith(f"{annotations}:12"))
    assert "3 tab-separated columns, expected 2" in reasons[f"{annotations}:13"]
    assert reasons[f"{annotations}:14"] == "empty caption"
    assert "not valid UTF-8" in reasons[f"{annotations}:15"]
    by_id = {i.clip_id: i for i in items}
    first = by_id[expected["good"][0]]
    assert first.captions == ("SOMEONE walks to the door number 0.", 'SOMEONE looks "around".')
    assert first.split == "train" and by_id[expected["good"][-1]].split == "val"
    assert first.start == pytest.approx(10.0) and first.end == pytest.approx(12.5)
    assert filter_items(items, movies=["0002_Movie_B"]) == [i for i in items if i.movie == "0002_Movie_B"]
    assert [i.clip_id for i in filter_items(items, keywords=["looks"])] == [first.clip_id]


def test_lsmdc_groups_sentences_and_keeps_stray_quotes(tmp_path):
    clip = "0005_Movie_C_00.01.00.000-00.01.02.000"
    write_video(tmp_path / "0005_Movie_C" / f"{clip}.avi", "MJPG", (48, 48), 25, 8)
    annotations = tmp_path / "LSMDC16_annos_training.csv"
    annotations.write_text(
        f"{clip}\t00.01.00.000\t00.01.02.000\t00.00.59.500\t00.01.02.500\tSOMEONE says \"hi.\n"
        f"{clip}\t00.01.00.000\t00.01.02.000\t00.00.59.500\t00.01.02.500\tSOMEONE waves.\n"
        f"{clip}\tonly three\tcolumns\n"
    )
    items, skipped = lsmdc_items(tmp_path, [annotations])
    assert len(items) == 1 and items[0].captions == ('SOMEONE says "hi.', "SOMEONE waves.")
    assert items[0].split == "train" and items[0].start == pytest.approx(59.5)
    assert len(skipped) == 1 and skipped[0].item == f"{annotations}:3"


def test_csv_and_stacked_lists(tmp_path):
    write_video(tmp_path / "v" / "a.mp4", "mp4v", (64, 48), 30, 10)
    (tmp_path / "clips.csv").write_text(
        "video,caption,split\nv/a.mp4,a square slides right,val\nv/b.mp4,a missing clip,\nv/a.mp4,,train\nv/a.mp4,again,nonsense\n"
    )
    items, skipped = csv_items(tmp_path / "clips.csv")
    assert [(i.clip_id, i.split, i.kind) for i in items] == [("v/a.mp4", "val", "video")]
    assert [s.reason.split(" ")[0] for s in skipped] == ["missing", "empty", "unknown"]
    (tmp_path / "bad.csv").write_text("path,text\nx,y\n")
    with pytest.raises(ClipError, match="bad.csv:1: the header must name"):
        csv_items(tmp_path / "bad.csv")
    cv2.imwrite(str(tmp_path / "s.jpg"), np.zeros((64, 16, 3), np.uint8))
    (tmp_path / "list.txt").write_text("s.jpg\ns.jpg\tgolf swing\nmissing.jpg\n")
    items, skipped = stacked_items(tmp_path / "list.txt", caption="")
    assert [i.captions for i in items] == [("golf swing",)] and len(skipped) == 2
    items, _ = stacked_items(tmp_path / "list.txt", caption="a golf club swings")
    assert [i.captions for i in items] == [("a golf club swings",), ("golf swing",)]

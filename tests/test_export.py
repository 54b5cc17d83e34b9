import imageio.v2 as imageio
import numpy as np
import pytest

from keras_t2v.data.shapes import make_clip
from keras_t2v.export import export_to_gif, export_to_video, frame_strip, to_uint8


def test_to_uint8_maps_the_generator_range():
    np.testing.assert_array_equal(to_uint8(np.array([-1.0, 0.0, 1.0, 2.0])), [0, 128, 255, 255])


def test_gif_round_trip(tmp_path):
    video = make_clip(0, "train", 0, 32, 16).video
    path = export_to_gif(video, tmp_path / "a.gif", fps=10)
    frames = imageio.mimread(path)
    assert len(frames) == 16 and frames[0].shape[:2] == (32, 32)
    assert np.abs(frames[5][..., :3].astype(int) - video[5]).mean() < 8  # GIF palette quantisation


def test_mp4_round_trip(tmp_path):
    video = make_clip(0, "train", 1, 64, 32).video
    path = export_to_video(video.astype(np.float32) / 127.5 - 1.0, tmp_path / "a.mp4", fps=8)
    frames = [f for f in imageio.get_reader(path, format="FFMPEG")]
    assert len(frames) == 32 and frames[0].shape == (64, 64, 3)
    assert np.abs(frames[10].astype(int) - video[10]).mean() < 12  # lossy H.264


def test_frame_strip_layout():
    videos = np.stack([make_clip(0, "train", i, 16, 8).video for i in range(3)])
    strip = frame_strip(videos, num_columns=4, gap=1)
    assert strip.shape == (3 * 16 + 2, 4 * 16 + 3, 3)
    np.testing.assert_array_equal(strip[17:33, 17:33], videos[1, 2])  # row 1, column 1 = frame round(7/3)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"expected frames of shape \(T, H, W, 3\)"):
        export_to_gif(np.zeros((4, 8, 8), np.uint8), "x.gif")

import numpy as np
import pytest

from keras_t2v.data.attributes import MOTIONS
from keras_t2v.data.shapes import make_clip
from keras_t2v.evaluation.motion import centroid_trajectory, classify_motion, classify_trajectory, object_tracks


@pytest.mark.parametrize("size,frames", [(64, 32), (16, 8)])
def test_rule_classifies_every_rendered_motion(size, frames):
    hits = {m: [] for m in range(len(MOTIONS))}
    for index in range(240):
        clip = make_clip(4, "test", index, size, frames)
        motion = clip.spec.attributes[3]
        hits[motion].append(classify_motion(clip.video) == motion)
    for motion, results in hits.items():
        assert len(results) >= 20
        assert np.mean(results) >= (0.97 if size == 64 else 0.9), (MOTIONS[motion], np.mean(results))


def test_centroid_follows_the_stored_centres():
    clip = make_clip(0, "train", 5, 64, 32)
    found = centroid_trajectory(clip.video)
    offset = np.array([0.0, clip.spec.attributes[0] == 2]) * (0.34 if clip.spec.attributes[2] else 0.2) * 64 / 6
    assert np.nanmax(np.abs(found - clip.centers - offset)) < 2.0


def test_static_or_empty_video():
    video = np.full((8, 16, 16, 3), 100, np.uint8)
    assert classify_motion(video) == -1
    assert classify_trajectory(np.array([[1.0, 1.0], [np.nan, np.nan]])) == -1


def test_object_tracks_in_tensorflow_equal_the_centroid_rule():
    """object_tracks: a batch in [-1, 1] -> the numpy rule's centroid displacement from frame 0, in
    fractions of the frame; not seen where the object is missing in frame t or frame 0."""
    clips = [make_clip(0, "train", i, 64, 32).video for i in range(4)]
    clips[3] = clips[3].copy()
    clips[3][5] = np.median(clips[3], axis=0).astype(np.uint8)  # the object gone from frame 5
    videos = np.stack(clips).astype(np.float32) / 127.5 - 1.0
    track, seen = (np.asarray(t) for t in object_tracks(videos))
    for clip, moved, found in zip(clips, track, seen):
        centers = centroid_trajectory(clip)
        expected = np.isfinite(centers).all(axis=1) & np.isfinite(centers[0]).all()
        np.testing.assert_array_equal(found, expected)
        np.testing.assert_allclose(moved[expected], (centers - centers[0])[expected] / 64, atol=1e-4)
    assert seen[3, 5] == 0.0 and seen[:3].all()

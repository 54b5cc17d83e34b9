"""The rendered videos obey shared/specs/dataset.md, measured on the pixels and stored labels."""


import numpy as np
import pytest

from keras_t2v.data import shapes
from keras_t2v.data.attributes import BACKGROUNDS, COLORS, MOTIONS, SHAPES, SIZES
from keras_t2v.data.shapes import background_image, describe_clip, extent_pixels, make_clip, render_clip

GEOMETRIES = [(64, 32), (32, 16)]


def clip_with(pixels, frames, **wanted):
    """The first train clip whose attributes include `wanted` (e.g. shape=2), rendered."""
    names = ("shape", "color", "size", "motion", "background")
    for index in range(10_000):
        spec = describe_clip(7, "train", index)
        if all(spec.attributes[names.index(k)] == v for k, v in wanted.items()):
            return render_clip(spec, pixels, frames)
    raise AssertionError(f"no train clip with {wanted}")


def clips_with(pixels, frames, count, **wanted):
    names = ("shape", "color", "size", "motion", "background")
    found = []
    for index in range(10_000):
        spec = describe_clip(11, "train", index)
        if all(spec.attributes[names.index(k)] == v for k, v in wanted.items()):
            found.append(render_clip(spec, pixels, frames))
            if len(found) == count:
                return found
    raise AssertionError(f"fewer than {count} train clips with {wanted}")


def coverage(clip):
    """Per-pixel object coverage in [0, 1] recovered from the pixels, (T, S, S)."""
    size = clip.video.shape[1]
    background = background_image(clip.spec, size)
    color = np.array(clip.spec.color, np.float32)
    diff = color - background  # (S, S, 3)
    channel = np.argmax(np.abs(diff), axis=-1)
    d = np.take_along_axis(diff, channel[..., None], -1)[..., 0]
    v = np.take_along_axis(clip.video.astype(np.float32) - background, channel[None, ..., None], -1)[..., 0]
    return np.clip(v / d, 0, 1)


@pytest.mark.parametrize("size,frames", GEOMETRIES)
def test_output_format(size, frames):
    clip = make_clip(0, "train", 3, size, frames)
    assert clip.video.shape == (frames, size, size, 3) and clip.video.dtype == np.uint8
    assert clip.centers.shape == (frames, 2) and clip.boxes.shape == (frames, 4)
    assert len(clip.spec.captions) == 3


@pytest.mark.parametrize("size,frames", GEOMETRIES)
@pytest.mark.parametrize("color", range(len(COLORS)))
def test_object_colour_is_the_named_colour_and_saturated(size, frames, color):
    clip = clip_with(size, frames, color=color)
    cov = coverage(clip)
    interior = clip.video[cov >= 0.999].astype(int)
    assert len(interior) > 0
    assert np.all(np.abs(interior - shapes.COLOR_RGB[color]) <= shapes.COLOR_JITTER)
    assert np.all(interior.max(-1) - interior.min(-1) >= 130)


@pytest.mark.parametrize("size,frames", GEOMETRIES)
@pytest.mark.parametrize("background", range(len(BACKGROUNDS)))
def test_background_is_static_unsaturated_and_as_named(size, frames, background):
    clip = clip_with(size, frames, background=background)
    video = clip.video.astype(int)
    boxes = clip.boxes
    # Pixels the object never touches are identical in every frame.
    untouched = np.ones((size, size), bool)
    for x0, y0, x1, y1 in boxes:
        untouched[max(0, int(y0) - 1) : int(np.ceil(y1)) + 1, max(0, int(x0) - 1) : int(np.ceil(x1)) + 1] = False
    assert untouched.sum() > size * size // 4
    assert np.all(video[:, untouched] == video[:1, untouched])
    pixels = video[0][untouched]
    assert np.all(pixels.max(-1) - pixels.min(-1) <= 12)
    level = video[0].mean(-1)
    rows = np.arange(size)
    if background == 0:
        assert np.all(np.abs(pixels - [20, 20, 28]) <= 8)
    elif background == 1:
        assert np.all(np.abs(pixels - 128) <= 8)
    else:
        period = max(2, int(np.floor(size / 8 + 0.5)))
        light = (rows % period) < period / 2
        row_level = np.array([level[r][untouched[r]].mean() if untouched[r].any() else np.nan for r in rows])
        known = ~np.isnan(row_level)
        assert np.all(np.abs(row_level[light & known] - 165) <= 8)
        assert np.all(np.abs(row_level[~light & known] - 90) <= 8)
        assert light[0]  # stripes start with a light half at row 0


@pytest.mark.parametrize("size,frames", GEOMETRIES)
@pytest.mark.parametrize("shape", range(len(SHAPES)))
@pytest.mark.parametrize("size_value", range(len(SIZES)))
def test_shape_extent_and_fill(size, frames, shape, size_value):
    clip = clip_with(size, frames, shape=shape, size=size_value, motion=0)
    extent = shapes.SIZE_EXTENT[size_value] * size
    cov = coverage(clip)[frames // 2]
    area = cov.sum()
    fill = {0: np.pi / 4, 1: 1.0, 2: 0.5}[shape]  # area / extent^2 tells the shapes apart
    assert np.sqrt(area / fill) == pytest.approx(extent, rel=0.03)
    rows, cols = np.nonzero(cov.sum(axis=1))[0], np.nonzero(cov.sum(axis=0))[0]
    for first, last in ((rows[0], rows[-1]), (cols[0], cols[-1])):
        assert extent - 0.01 <= last + 1 - first < extent + 2
    # A triangle pointing up has its centroid extent/6 below its box centre; the others at it.
    cy = clip.centers[frames // 2, 1]
    centroid = (cov.sum(axis=1) * (np.arange(size) + 0.5)).sum() / area
    assert centroid - cy == pytest.approx(extent / 6 if shape == 2 else 0.0, abs=0.15)


@pytest.mark.parametrize("size,frames", GEOMETRIES)
def test_rendered_object_is_where_the_labels_say(size, frames):
    for index in range(6):
        clip = make_clip(1, "train", index, size, frames)
        cov = coverage(clip)
        ys, xs = np.mgrid[:size, :size] + 0.5
        mass = cov.sum(axis=(1, 2))
        cx = (cov * xs).sum(axis=(1, 2)) / mass
        cy = (cov * ys).sum(axis=(1, 2)) / mass
        offset = extent_pixels(clip.spec, size) / 6 if clip.spec.attributes[0] == 2 else 0.0
        np.testing.assert_allclose(cx, clip.centers[:, 0], atol=0.3)
        np.testing.assert_allclose(cy, clip.centers[:, 1] + offset, atol=0.3)
        half = extent_pixels(clip.spec, size) / 2
        np.testing.assert_allclose(clip.boxes, np.concatenate([clip.centers - half, clip.centers + half], 1), atol=1e-4)


def _span(clip, size):
    half = extent_pixels(clip.spec, size) / 2
    return half, size - half


@pytest.mark.parametrize("size,frames", GEOMETRIES)
@pytest.mark.parametrize("motion", range(len(MOTIONS)))
def test_motion_follows_the_rules(size, frames, motion):
    for index in range(8):
        clip = clips_with(size, frames, 8, motion=motion)[index]
        lo, hi = _span(clip, size)
        span = hi - lo
        axis = 0 if motion in (0, 1, 4) else 1
        along, across = clip.centers[:, axis], clip.centers[:, 1 - axis]
        assert np.all(across == across[0]) and lo - 1e-4 <= across[0] <= hi + 1e-4
        assert np.all(along >= lo - 1e-4) and np.all(along <= hi + 1e-4)
        step = np.diff(along)
        if motion < 4:
            decreasing = motion in (0, 2)  # left, up (up = decreasing row index)
            assert np.all(step < 0) if decreasing else np.all(step > 0)
            np.testing.assert_allclose(step, step[0], atol=1e-4)  # constant speed
            start_edge, end_edge = (hi, lo) if decreasing else (lo, hi)
            assert abs(along[0] - start_edge) <= 0.15 * span + 1e-4
            assert abs(along[-1] - end_edge) <= 0.15 * span + 1e-4
        else:
            reversals = np.sum(np.sign(step[1:]) * np.sign(step[:-1]) < 0)
            assert reversals >= 1
            # Sampled positions see at most the true path length, and at least 1.5 spans minus
            # what the wall bounces cut off between two samples.
            path = np.abs(step).sum()
            assert path <= 2.5 * span + 1e-3
            assert path >= 1.5 * span - 2 * (reversals + 1) * 2.5 * span / (frames - 1)


def test_every_bouncing_clip_reverses():
    for index in range(300):
        spec = describe_clip(3, "train", index)
        if spec.attributes[3] >= 4:
            clip = render_clip(spec, 16, 8)
            axis = 0 if spec.attributes[3] == 4 else 1
            step = np.diff(clip.centers[:, axis])
            assert np.any(np.sign(step[1:]) * np.sign(step[:-1]) < 0) or np.any(step == 0), index


def test_same_scene_at_every_resolution():
    big, small = make_clip(5, "val", 9, 64, 32), make_clip(5, "val", 9, 32, 32)
    assert big.spec == small.spec
    np.testing.assert_allclose(big.centers / 64, small.centers / 32, atol=1e-5)


def test_deterministic_and_index_dependent():
    a, b = make_clip(0, "train", 11), make_clip(0, "train", 11)
    assert np.array_equal(a.video, b.video) and a.spec == b.spec
    assert not np.array_equal(a.video, make_clip(0, "train", 12).video)
    assert not np.array_equal(a.video, make_clip(1, "train", 11).video)


def test_rejects_too_small_geometry():
    with pytest.raises(ValueError, match="size >= 16"):
        make_clip(0, "train", 0, 8, 32)
    with pytest.raises(ValueError, match="frames >= 8"):
        make_clip(0, "train", 0, 32, 4)

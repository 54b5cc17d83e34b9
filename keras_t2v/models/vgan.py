"""VGAN networks (Vondrick et al. 2016): two-stream video generators and the 3D discriminator.

Layer tables: shared/specs/reference_architectures.md 2.2-2.5, channels-last (B, T, H, W, C).
Convolutions have biases (Torch), kernels start N(0, 0.01); generator BN eps 1e-5, discriminator
and image-encoder BN eps 1e-3. 4x4 stride-2 (transposed) convs with "same" padding equal Torch's
pad 1 on even sizes.

Generators (all: video = mask * foreground + (1 - mask) * background, the background repeated over
time and the mask over colour; with `two_stream=False` the video is the foreground alone):
- `unconditional`: z (B, z_dim) -> both streams from a 4x4 (2D) / 2x4x4 (3D) projection.
- `image`: the original's main_conditional.lua: a 2D encoder of the first frame to 4x4, the
  background decoded from that code, the foreground through a (2,1,1) temporal transposed conv.
- `text`: the original author's proposed fix: as `image`, with [text code, z] projected to 4x4 and
  concatenated to the image code before both streams (so every frame and the background see the
  caption), and a matching-aware discriminator that also sees the text code.

With `sprite` (text variant, a deviation) the foreground is drawn once, in 2D, and moved by a
shift per frame read from the text (`conditional_generator`).

Upsampling (`upsample`): "transposed", the original's 4x4(x4) stride-2 transposed convolutions, or
"nearest" (a deviation, as StackGAN's generator and Odena et al. 2016 "Deconvolution and Checkerboard
Artifacts"): nearest-neighbour doubling, then a 3x3(x3) convolution, which draws edges without the
transposed convolutions' uneven overlap.

Sizes: `frames` must be `image_size / 2`; there are log2(S / 4) doublings (4 at 64x64); smaller
presets drop the blocks farthest from the output.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from keras_t2v.models.layers import (ConditionalBatchNorm, CosinePath, NoiseChosenPath, StopGradient, TranslatedCopies,
                                     TwoStreamComposite, batch_norm)

VARIANTS = ("unconditional", "image", "text")
UPSAMPLING = ("transposed", "nearest")


def init() -> keras.initializers.Initializer:
    """VGAN's kernel initialiser, N(0, 0.01): a new one per layer, so that each draws its own seed when
    the layer is built, after train.seed is set. (One shared instance would hold a single seed, drawn at
    import time: layers of one shape would start equal, and every process would start differently.)"""
    return keras.initializers.RandomNormal(0.0, 0.01)


def _doublings(image_size: int, frames: int) -> int:
    n = math.log2(image_size / 4)
    if n < 1 or n != int(n) or frames * 2 != image_size:
        raise ValueError(f"VGAN needs image_size = 4 * 2^k and frames = image_size / 2, got {image_size} and {frames}")
    return int(n)


# By the rank of the features: (B, H, W, C) -> 2D layers, (B, T, H, W, C) -> 3D.
_UP_LAYERS = {4: (layers.UpSampling2D, layers.Conv2D, layers.Conv2DTranspose),
              5: (layers.UpSampling3D, layers.Conv3D, layers.Conv3DTranspose)}


def _up(x, filters, name, act="relu", bn=True, condition=None, upsample="transposed"):
    """Doubles every spatial (and time) axis of `x`, then BN and the activation."""
    if upsample not in UPSAMPLING:
        raise ValueError(f"unknown VGAN upsampling {upsample!r}; expected one of {UPSAMPLING}")
    upsampling, conv, transposed = _UP_LAYERS[len(x.shape)]
    if upsample == "nearest":
        x = upsampling(2, name=name + "_up")(x)
        x = conv(filters, 3, padding="same", kernel_initializer=init(), name=name)(x)
    else:
        x = transposed(filters, 4, strides=2, padding="same", kernel_initializer=init(), name=name)(x)
    return _finish(x, name, act, bn, condition=condition)


def _finish(x, name, act, bn, epsilon=1e-5, condition=None):
    """[BN, or conditional BN on `condition` (B, D)], then the activation."""
    if bn and condition is not None:
        x = ConditionalBatchNorm(epsilon, name=name + "_bn")([x, condition])
    elif bn:
        x = batch_norm(name + "_bn", epsilon)(x)
    if act == "relu":
        return layers.ReLU(name=name + "_relu")(x)
    if act == "lrelu":
        return layers.LeakyReLU(0.2, name=name + "_lrelu")(x)
    if act in ("tanh", "sigmoid"):
        return layers.Activation(act, name=name + "_" + act)(x)
    return x


def _compose(foreground, mask, background, two_stream: bool):
    if not two_stream:
        return foreground
    return TwoStreamComposite(name="compose")([foreground, mask, background])


def _heads(x, name="fg", upsample="transposed"):
    foreground = _up(x, 3, f"{name}_foreground", act="tanh", bn=False, upsample=upsample)
    mask = _up(x, 1, f"{name}_mask", act="sigmoid", bn=False, upsample=upsample)
    return foreground, mask


def unconditional_generator(z_dim=100, gf_dim=64, image_size=64, frames=32, two_stream=True,
                            upsample="transposed") -> keras.Model:
    """z (B, z_dim) -> [video (B, T, S, S, 3), mask (B, T, S, S, 1), background (B, S, S, 3)]."""
    n = _doublings(image_size, frames)
    widths = [gf_dim * 2 ** i for i in reversed(range(n))]  # [8gf, 4gf, 2gf, gf] at 64x64
    z = keras.Input((z_dim,), name="z")
    b = layers.Reshape((1, 1, z_dim), name="z_2d")(z)
    b = _finish(layers.Conv2DTranspose(widths[0], 4, padding="valid", kernel_initializer=init(), name="bg_project")(b), "bg_project", "relu", True)
    for i, w in enumerate(widths[1:]):
        b = _up(b, w, f"bg_up{i + 1}", upsample=upsample)
    background = _up(b, 3, "bg_out", act="tanh", bn=False, upsample=upsample)
    f = layers.Reshape((1, 1, 1, z_dim), name="z_3d")(z)
    f = _finish(layers.Conv3DTranspose(widths[0], (2, 4, 4), padding="valid", kernel_initializer=init(), name="fg_project")(f), "fg_project", "relu", True)
    for i, w in enumerate(widths[1:]):
        f = _up(f, w, f"fg_up{i + 1}", upsample=upsample)
    foreground, mask = _heads(f, upsample=upsample)
    video = _compose(foreground, mask, background, two_stream)
    return keras.Model(z, [video, mask, background], name="vgan_generator")


def _skip(x, skips, name, shifts=None):
    """U-Net skip: `x` (B, s, s, C) or (B, t, s, s, C) joined with the encoder's map of the same
    size (B, s, s, C'), repeated over the t time steps in the 3D stream, or translated at each by
    `shifts` (B, T, 2) when given; `x` itself without skips."""
    if not skips:
        return x
    skip = next(e for e in skips if e.shape[1] == x.shape[-2])
    if len(x.shape) == 5 and shifts is not None:
        skip = TranslatedCopies(x.shape[1], name=name + "_moved")([skip, shifts])
    elif len(x.shape) == 5:
        skip = layers.Reshape((1,) + tuple(skip.shape[1:]), name=name + "_3d")(skip)
        skip = layers.UpSampling3D((x.shape[1], 1, 1), name=name + "_time")(skip)
    return layers.Concatenate(name=name)([x, skip])


def _decode(x, widths, stream, condition, skips, upsample, shifts=None):
    """The doubling blocks of a conditional generator's `stream` ("bg" or "fg", 2D or 3D by the rank
    of `x`), each followed by its U-Net skip when there are skips."""
    for i, w in enumerate(widths):
        x = _skip(_up(x, w, f"{stream}_up{i + 1}", condition=condition, upsample=upsample), skips, f"{stream}_skip{i + 1}", shifts)
    return x


def _shifts(reads, frames, name="skip_shift", path_terms=0, choices=1, z=None):
    """[text code, z, ...] (B, D) -> (B, frames, 2): a translation per frame, in (-1, 1) of the
    frame's size, free at every frame or, with path_terms = K > 0, a smooth path of K cosines
    (`CosinePath`). The last layer starts at zero, so at initialisation nothing moves. With
    `choices` = H > 1 paths (B, H, frames, 2) (layer `name`_paths) and their odds (B, H) (`name`_odds),
    `z` draws one by the odds (`NoiseChosenPath`); the paths' last layer starts near zero, so that
    they differ, the odds' at zero, so that they start even."""
    h = layers.Dense(64, activation="relu", name=name + "_hidden")(reads)
    if path_terms and choices > 1:
        c = layers.Dense(choices * path_terms * 2, kernel_initializer=init(), name=name)(h)
        paths = CosinePath(frames, name=name + "_paths")(layers.Reshape((choices, path_terms * 2), name=name + "_choices")(c))
        odds = layers.Dense(choices, kernel_initializer="zeros", name=name + "_odds")(h)
        return NoiseChosenPath(name=name + "_frames")([paths, odds, z])
    if path_terms:
        return CosinePath(frames, name=name + "_frames")(layers.Dense(path_terms * 2, kernel_initializer="zeros", name=name)(h))
    s = layers.Dense(frames * 2, activation="tanh", kernel_initializer="zeros", name=name)(h)
    return layers.Reshape((frames, 2), name=name + "_frames")(s)


SPRITE_SOURCES = ("drawn", "frame")


def _sprite(x, image, text_z, z, frames, widths, condition, skips, upsample, path_terms, source, choices=1, track_only=False):
    """`sprite`'s foreground: the 4x4 code `x` (B, 4, 4, C) decoded in 2D to one mask (B, S, S, 1)
    and foreground (B, S, S, 3), drawn (`source` "drawn") or the first frame `image` itself
    ("frame"), then, per frame, copies of both translated by shifts (B, frames, 2) read from
    [text code, z] `text_z` and the mask's 8x8 means (where the object is), free per frame or a
    path of `path_terms` cosines, one of `choices` picked by `z`. `track_only`: no gradient flows
    between the path and the rest of G, so that only a loss on the path itself trains it.
    -> (foreground (B, frames, S, S, 3), mask (B, frames, S, S, 1))."""
    if source not in SPRITE_SOURCES:
        raise ValueError(f"unknown sprite source {source!r}; expected one of {SPRITE_SOURCES}")
    f = _decode(x, widths, "fg", condition, skips, upsample)
    if source == "frame":
        foreground, mask = image, _up(f, 1, "fg_mask", act="sigmoid", bn=False, upsample=upsample)
    else:
        foreground, mask = _heads(f, upsample=upsample)
    where = layers.Flatten(name="sprite_where")(layers.AveragePooling2D(mask.shape[1] // 8, name="sprite_mask_8x8")(mask))
    if track_only:
        where = StopGradient(name="sprite_where_stopped")(where)
    shifts = _shifts(layers.Concatenate(name="sprite_reads")([text_z, where]), frames, "sprite_shift", path_terms, choices, z)
    if track_only:
        shifts = StopGradient(name="sprite_shift_stopped")(shifts)
    return (TranslatedCopies(frames, name="fg_moved")([foreground, shifts]),
            TranslatedCopies(frames, name="mask_moved")([mask, shifts]))


def conditional_generator(gf_dim=64, image_size=64, frames=32, two_stream=True, text_dim=0, z_dim=0,
                          conditional_bn=False, upsample="transposed", unet_skips=False, moving_skips=False,
                          sprite=False, sprite_path=0, sprite_source="drawn", sprite_path_choices=1,
                          sprite_track_only=False) -> keras.Model:
    """[first frame (B, S, S, 3)] (+ [text code (B, text_dim), z (B, z_dim)] when text_dim > 0)
    -> [video (B, T, S, S, 3), mask, background].

    conditional_bn (text variant, a deviation): every BatchNorm of both decoding streams takes its
    scale and offset from the text code, so the caption acts at every scale and every time step.

    unet_skips (a deviation, U-Net / pix2pix, Isola et al. 2017): every decoder block of both
    streams also reads the frame encoder's features of its size (8x8 .. S/2 at S), repeated over
    time in the foreground, so the frame's object need not pass through the 4x4 code.

    moving_skips (text variant with unet_skips, a deviation): the foreground's skips are no longer
    frame 0's maps at every time step but copies translated by a shift per frame that G predicts
    from [text code, z] (`TranslatedCopies`), so the object's features can move with it.

    sprite (text variant, a deviation): the foreground stream is 2D, like the background: it draws
    one foreground and mask (B, S, S, 3 / 1) from the code, and the video's are copies of both
    translated by a shift per frame that G reads from [text code, z] and where its mask is (the
    mask's 8x8 means). The object is drawn once and moved, so it keeps its shape at every frame,
    and its motion is the shift alone, taught by the losses on the video (or a real track, VideoGAN). sprite_path
    = K > 0 makes that shift a smooth path, a sum of K cosines over the clip, not one per frame.
    sprite_source "frame" takes the sprite's colour from the first frame itself, so that only the
    mask is drawn and the object that moves is the frame's own, pixel for pixel.
    sprite_path_choices = H > 1 (with sprite_path): H paths per [text code, z, where] and their
    odds, from which z draws one, so that a caption whose object may go either way (a bounce) can
    have both.
    sprite_track_only: the video's losses do not reach the path, nor the path the mask; a loss on
    the path itself (VideoGAN's sprite_track_weight) trains it."""
    if moving_skips and not (unet_skips and text_dim):
        raise ValueError("moving_skips moves the U-Net skips by a shift read from the text: it needs unet_skips and text_dim > 0")
    if (sprite_path or sprite_track_only) and not sprite:
        raise ValueError("sprite_path and sprite_track_only shape the sprite's shift: they need sprite")
    if sprite_path_choices > 1 and not (sprite_path and sprite_path_choices <= z_dim):
        raise ValueError(f"sprite_path_choices = {sprite_path_choices} paths are chosen by z: they need sprite_path > 0 "
                         f"and z_dim >= {sprite_path_choices}, got sprite_path {sprite_path}, z_dim {z_dim}")
    if sprite and (moving_skips or not text_dim):
        raise ValueError("sprite moves one 2D foreground by a shift read from the text: it needs text_dim > 0 "
                         "and has no 3D foreground skips to move (moving_skips)")
    n = _doublings(image_size, frames)
    enc_widths = [gf_dim * 2 ** (i + 1) for i in range(4)][-n:]  # [2gf .. 16gf]: 128..1024 at gf 64
    dec_widths = [gf_dim * 2 ** i for i in reversed(range(1, 4))][: n - 1]  # [8gf, 4gf, 2gf]
    image = keras.Input((image_size, image_size, 3), name="first_frame")
    inputs = [image]
    x = image
    encoded = []
    for i, w in enumerate(enc_widths):
        x = layers.Conv2D(w, 4, strides=2, padding="same", kernel_initializer=init(), name=f"enc{i + 1}")(x)
        x = _finish(x, f"enc{i + 1}", "relu", bn=i > 0, epsilon=1e-3)
        encoded.append(x)
    skips = encoded if unet_skips else []
    condition = shifts = text_z = z = None
    if text_dim:
        text = keras.Input((text_dim,), name="text_code")
        z = keras.Input((z_dim,), name="z")
        condition = text if conditional_bn else None
        inputs += [text, z]
        t = text_z = layers.Concatenate(name="text_z")([text, z])
        shifts = _shifts(t, frames) if moving_skips else None
        t = layers.Dense(4 * 4 * gf_dim * 2, kernel_initializer=init(), name="text_project")(t)
        t = _finish(layers.Reshape((4, 4, gf_dim * 2), name="text_4x4")(t), "text_4x4", "relu", True)
        x = layers.Concatenate(name="image_text_code")([x, t])
    code_width = enc_widths[-1]
    b = _decode(x, dec_widths, "bg", condition, skips, upsample)
    background = _up(b, 3, "bg_out", act="tanh", bn=False, upsample=upsample)
    if sprite:
        foreground, mask = _sprite(x, image, text_z, z, frames, dec_widths, condition, skips, upsample, sprite_path, sprite_source,
                                   sprite_path_choices, sprite_track_only)
        video = _compose(foreground, mask, background, two_stream)
        return keras.Model(inputs, [video, mask, background], name="vgan_generator")
    f = layers.Reshape((1, 4, 4, x.shape[-1]), name="code_3d")(x)
    f = layers.Conv3DTranspose(code_width, (2, 1, 1), padding="valid", kernel_initializer=init(), name="fg_time")(f)
    f = _finish(f, "fg_time", "relu", True, condition=condition)
    f = _decode(f, dec_widths, "fg", condition, skips, upsample, shifts)
    foreground, mask = _heads(f, upsample=upsample)
    video = _compose(foreground, mask, background, two_stream)
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], [video, mask, background], name="vgan_generator")


ATTRIBUTE_HEADS = ("pool", "flatten")


def discriminator(df_dim=64, image_size=64, frames=32, text_dim=0, c_dim=128, attribute_classes=0,
                  projection=False, attribute_head="pool") -> keras.Model:
    """video (B, T, S, S, 3) [+ text code (B, text_dim)] -> 2 logits (B, 2): (real, fake) as Torch's
    2-way CrossEntropy; with text_dim > 0 the text is tiled onto the 2x4x4 features (matching-aware).
    With attribute_classes > 0 a second output, (B, attribute_classes) attribute logits from the
    last video features (before the text joins): an auxiliary classifier (AC-GAN). They are read
    from the features' global mean (attribute_head="pool") or from all of them ("flatten", a
    deviation): the mean over the 2x4x4 positions drops where the object is at which time, the
    evidence for its motion.

    projection (text only, a deviation, Miyato & Koyama 2018, as stackgan.projection_d): instead
    of the tiled text, each logit adds the inner product of the pooled video features (B, W) with
    its own projection of the text code, so D scores how well the video matches every component
    of the code rather than learning the match through one 1x1 convolution."""
    if projection and not text_dim:
        raise ValueError("a projection discriminator needs the text code (text_dim > 0)")
    if attribute_head not in ATTRIBUTE_HEADS:
        raise ValueError(f"unknown attribute head {attribute_head!r}; expected one of {ATTRIBUTE_HEADS}")
    n = _doublings(image_size, frames)
    widths = [df_dim * 2 ** i for i in range(4)][-n:]
    video = keras.Input((frames, image_size, image_size, 3), name="video")
    inputs = [video]
    x = video
    for i, w in enumerate(widths):
        x = layers.Conv3D(w, 4, strides=2, padding="same", kernel_initializer=init(), name=f"conv{i + 1}")(x)
        x = _finish(x, f"conv{i + 1}", "lrelu", bn=i > 0, epsilon=1e-3)
    if text_dim:
        text = keras.Input((text_dim,), name="text_code")
        inputs.append(text)
    pooled = layers.GlobalAveragePooling3D(name="feature_pool")(x) if attribute_classes or projection else None
    attributes = None
    if attribute_classes:
        features = layers.Flatten(name="feature_flatten")(x) if attribute_head == "flatten" else pooled
        attributes = layers.Dense(attribute_classes, kernel_initializer=init(), name="attribute_logits")(features)
    if projection:
        unconditional = layers.Flatten(name="unconditional_logits")(
            layers.Conv3D(2, (2, 4, 4), padding="valid", kernel_initializer=init(), name="logits_conv")(x))
        t = layers.Reshape((2, widths[-1]), name="text_projections")(
            layers.Dense(2 * widths[-1], use_bias=False, kernel_initializer=init(), name="text_projection")(text))
        matching = layers.Dot(axes=(1, 2), name="projection")([pooled, t])
        logits = layers.Add(name="logits")([unconditional, matching])
    else:
        if text_dim:
            t = layers.LeakyReLU(0.2, name="text_lrelu")(layers.Dense(c_dim, kernel_initializer=init(), name="text_fc")(text))
            t = layers.UpSampling3D((2, 4, 4), name="text_tile")(layers.Reshape((1, 1, 1, c_dim), name="text_1x1")(t))
            x = layers.Concatenate(name="video_text")([x, t])
            x = layers.Conv3D(widths[-1], 1, kernel_initializer=init(), name="joint")(x)
            x = _finish(x, "joint", "lrelu", True, epsilon=1e-3)
        x = layers.Conv3D(2, (2, 4, 4), padding="valid", kernel_initializer=init(), name="logits_conv")(x)
        logits = layers.Flatten(name="logits")(x)
    outputs = [logits, attributes] if attributes is not None else logits
    return keras.Model(inputs if len(inputs) > 1 else inputs[0], outputs, name="vgan_discriminator")

"""StackGAN Stage-I (text code -> 64x64) and Stage-II (64x64 -> 256x256) networks.

Layer tables: shared/specs/reference_architectures.md 1.4-1.7, for the TensorFlow original
(`variant="tf"`, the default) and the PyTorch port (`variant="pytorch"`); differences in table 1.10.
All convolutions are bias-free except the PyTorch port's final logit conv; "same" padding equals
the originals' pad 1 for 3x3 and for 4x4 stride-2 convolutions on even sizes.

Sizes: Stage-I generators start at 4x4 and double to `image_size` (64 in the paper); below 64 the
up-blocks nearest the output are dropped, and discriminators drop their first down-convs, so a
small preset keeps the layers around the 4x4 bottleneck. Stage-II always outputs 4x its input.

Discriminators return logits (B, 1); the port's Sigmoid + BCELoss is computed as sigmoid
cross-entropy on logits, the numerically stable form of the same loss.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from keras_t2v.models.layers import ConditionalBatchNorm, ConditioningAugmentation, StopGradient, batch_norm, conv_init


def _num_doublings(image_size: int, start: int = 4) -> int:
    n = math.log2(image_size / start)
    if n < 1 or n != int(n):
        raise ValueError(f"image size must be {start} times a power of two (>= {2 * start}), got {image_size}")
    return int(n)


class _Namer:
    """Unique, readable layer names inside one network."""

    def __init__(self, prefix: str):
        self.prefix, self.counts = prefix, {}

    def __call__(self, kind: str) -> str:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        return f"{self.prefix}_{kind}{self.counts[kind]}"


def _conv(x, filters, kernel, strides, variant, name, use_bias=False, padding="same"):
    return layers.Conv2D(filters, kernel, strides=strides, padding=padding, use_bias=use_bias,
                         kernel_initializer=conv_init(variant), name=name)(x)


def _bn(x, name, act=None, condition=None):
    """BN (conditional BN when given a condition (B, D)), then the activation."""
    x = batch_norm(name)(x) if condition is None else ConditionalBatchNorm(name=name)([x, condition])
    if act == "relu":
        x = layers.ReLU(name=name + "_relu")(x)
    elif act == "lrelu":
        x = layers.LeakyReLU(0.2, name=name + "_lrelu")(x)
    return x


def _up_conv(x, filters, variant, n: _Namer, act="relu", bn=True, condition=None):
    """Nearest-neighbour x2, conv3x3, [BN], [activation]."""
    x = layers.UpSampling2D(2, interpolation="nearest", name=n("up"))(x)
    x = _conv(x, filters, 3, 1, variant, n("conv"))
    return _bn(x, n("bn"), act, condition) if bn else x


def _bottleneck(x, inner, variant, n: _Namer, act, condition=None):
    """TF residual branch: conv1x1 inner, BN, act; conv3x3 inner, BN, act; conv3x3 out, BN; add; act."""
    out = x.shape[-1]
    h = _bn(_conv(x, inner, 1, 1, variant, n("conv")), n("bn"), act, condition)
    h = _bn(_conv(h, inner, 3, 1, variant, n("conv")), n("bn"), act, condition)
    h = _bn(_conv(h, out, 3, 1, variant, n("conv")), n("bn"), None, condition)
    x = layers.Add(name=n("add"))([x, h])
    return layers.ReLU(name=n("relu"))(x) if act == "relu" else layers.LeakyReLU(0.2, name=n("lrelu"))(x)


def _fc(units, variant, name, use_bias=True):
    return layers.Dense(units, use_bias=use_bias, kernel_initializer=keras.initializers.RandomNormal(0.0, 0.02),
                        bias_initializer="zeros", name=name)


def set_generation_noise(generator: keras.Model, scale: float) -> None:
    """How much of the conditioning augmentation's noise `generator` (Stage-I or II) draws when
    generating (`ConditioningAugmentation.generation_noise`)."""
    generator.get_layer("ca").generation_noise = scale


def stage1_generator(embed_dim: int, c_dim: int = 128, z_dim: int = 100, gf_dim: int = 128, image_size: int = 64,
                     variant: str = "tf", seed=None, conditional_bn: bool = False) -> keras.Model:
    """[embedding (B, E), z (B, z_dim)] -> [image (B, S, S, 3) in [-1, 1], mu (B, c_dim), log_sigma (B, c_dim)].

    conditional_bn (a deviation, off in the originals): every BatchNorm after the input FC takes its
    scale and offset from the CA code c, so the text acts at every scale, not only at the input.
    """
    n = _Namer("g1")
    embedding = keras.Input((embed_dim,), name="embedding")
    z = keras.Input((z_dim,), name="z")
    c, mu, log_sigma = ConditioningAugmentation(c_dim, variant, seed, name="ca")(embedding)
    cond = c if conditional_bn else None
    ups = _num_doublings(image_size)
    ngf = gf_dim * 8
    if variant == "tf":
        x = layers.Concatenate(name="c_z")([c, z])
        x = _fc(4 * 4 * ngf, variant, "fc")(x)
        x = layers.Reshape((4, 4, ngf), name="to_4x4")(_bn(x, "fc_bn"))
        x = _bottleneck(x, gf_dim * 2, variant, n, "relu", cond)
        widths = [gf_dim * 4, gf_dim * 2, gf_dim][: ups - 1]
        for i, width in enumerate(widths):
            if i == 0:  # node2_0: conv + BN without ReLU, then the second bottleneck block
                x = _up_conv(x, width, variant, n, act=None, condition=cond)
                x = _bottleneck(x, gf_dim, variant, n, "relu", cond)
            else:
                x = _up_conv(x, width, variant, n, condition=cond)
        x = _up_conv(x, 3, variant, n, bn=False)
    else:
        x = layers.Concatenate(name="z_c")([z, c])
        x = _fc(4 * 4 * ngf, variant, "fc", use_bias=False)(x)
        x = layers.Reshape((4, 4, ngf), name="to_4x4")(_bn(x, "fc_bn", "relu"))
        for i in range(ups):
            x = _up_conv(x, ngf // 2 ** (i + 1), variant, n, condition=cond)
        x = _conv(x, 3, 3, 1, variant, n("conv"))
    image = layers.Activation("tanh", name="image")(x)
    return keras.Model([embedding, z], [image, mu, log_sigma], name="stage1_generator")


def _conditional_head(x, condition, c_dim, df8, variant, n: _Namer, projection=False):
    """Tile the condition to 4x4, concat, conv (1x1 TF / 3x3 PT) df*8, BN, LReLU, conv4x4/4 -> logit.

    projection (a deviation, Miyato & Koyama 2018): the logit is instead a linear function of the
    4x4 features plus the inner product of the pooled features with a projection of the condition,
    so D scores how well what the frame shows matches every component of the text code.
    """
    if variant == "tf":  # D's own FC on the raw embedding
        condition = layers.LeakyReLU(0.2, name="text_lrelu")(_fc(c_dim, variant, "text_fc")(condition))
    if projection:
        unconditional = _fc(1, variant, "logit_fc")(layers.Flatten(name="features")(x))
        pooled = layers.GlobalAveragePooling2D(name="feature_pool")(x)
        matching = layers.Dot(axes=1, name="projection")([pooled, _fc(df8, variant, "text_projection", use_bias=False)(condition)])
        return layers.Add(name="logit")([unconditional, matching])
    tiled = layers.UpSampling2D(4, name="tile_4x4")(layers.Reshape((1, 1, c_dim), name="text_1x1")(condition))
    h = layers.Concatenate(name="image_text")([x, tiled])
    h = _bn(_conv(h, df8, 1 if variant == "tf" else 3, 1, variant, n("conv")), n("bn"), "lrelu")
    h = _conv(h, 1, 4, 4, variant, "logit_conv", use_bias=variant == "pytorch", padding="valid")
    return layers.Flatten(name="logit")(h)


def stage1_discriminator(cond_dim: int, c_dim: int = 128, df_dim: int = 64, image_size: int = 64, variant: str = "tf",
                         attribute_classes: int = 0, projection: bool = False) -> keras.Model:
    """[image (B, S, S, 3), condition (B, cond_dim)] -> logit (B, 1).

    The condition is the raw text embedding (TF: D has its own FC to c_dim) or the generator's CA
    mean mu (PyTorch, cond_dim = c_dim); `projection`: see _conditional_head. With
    attribute_classes > 0 a second output, attribute logits (B, attribute_classes) from the pooled
    4x4 image features: an auxiliary classifier.
    """
    n = _Namer("d1")
    image = keras.Input((image_size, image_size, 3), name="image")
    condition = keras.Input((cond_dim,), name="condition")
    downs = _num_doublings(image_size)
    widths = [df_dim, df_dim * 2, df_dim * 4, df_dim * 8][-downs:]
    x = image
    for i, width in enumerate(widths):
        x = _conv(x, width, 4, 2, variant, n("conv"))
        if i == 0:
            x = layers.LeakyReLU(0.2, name=n("lrelu"))(x)
        elif variant == "pytorch":
            x = _bn(x, n("bn"), "lrelu")
        elif i >= len(widths) - 2:  # TF quirk: the last two down-convs have BN but no activation
            x = _bn(x, n("bn"))
        else:
            x = _bn(x, n("bn"), "lrelu")
    if variant == "tf":
        x = _bottleneck(x, df_dim * 2, variant, n, "lrelu")
    logit = _conditional_head(x, condition, c_dim, df_dim * 8, variant, n, projection)
    if attribute_classes:
        pooled = layers.GlobalAveragePooling2D(name="attribute_pool")(x)
        logit = [logit, layers.Dense(attribute_classes, name="attribute_logits")(pooled)]
    return keras.Model([image, condition], logit, name="stage1_discriminator")


def stage2_generator(embed_dim: int, c_dim: int = 128, gf_dim: int = 128, r_num: int = 4, input_size: int = 64,
                     variant: str = "tf", seed=None) -> keras.Model:
    """[low-res image (B, s, s, 3), embedding (B, E)] -> [image (B, 4s, 4s, 3), mu, log_sigma].

    The Stage-I image enters with its gradient stopped (Stage-I is frozen while Stage-II trains).
    """
    n = _Namer("g2")
    low = keras.Input((input_size, input_size, 3), name="low_res_image")
    embedding = keras.Input((embed_dim,), name="embedding")
    x = StopGradient(name="stop_gradient")(low)
    x = layers.ReLU(name=n("relu"))(_conv(x, gf_dim, 3, 1, variant, n("conv")))
    x = _bn(_conv(x, gf_dim * 2, 4, 2, variant, n("conv")), n("bn"), "relu")
    x = _bn(_conv(x, gf_dim * 4, 4, 2, variant, n("conv")), n("bn"), "relu")
    c, mu, log_sigma = ConditioningAugmentation(c_dim, variant, seed, name="ca")(embedding)
    side = input_size // 4
    tiled = layers.UpSampling2D(side, name="tile")(layers.Reshape((1, 1, c_dim), name="c_1x1")(c))
    x = layers.Concatenate(name="image_text")([x, tiled])
    x = _bn(_conv(x, gf_dim * 4, 3, 1, variant, n("conv")), n("bn"), "relu")
    for _ in range(r_num):
        h = _bn(_conv(x, gf_dim * 4, 3, 1, variant, n("conv")), n("bn"), "relu")
        h = _bn(_conv(h, gf_dim * 4, 3, 1, variant, n("conv")), n("bn"))
        x = layers.ReLU(name=n("relu"))(layers.Add(name=n("add"))([x, h]))
    for width in (gf_dim * 2, gf_dim, gf_dim // 2, gf_dim // 4):
        x = _up_conv(x, width, variant, n)
    image = layers.Activation("tanh", name="image")(_conv(x, 3, 3, 1, variant, n("conv")))
    return keras.Model([low, embedding], [image, mu, log_sigma], name="stage2_generator")


def stage2_discriminator(cond_dim: int, c_dim: int = 128, df_dim: int = 64, image_size: int = 256, variant: str = "tf") -> keras.Model:
    """[image (B, S, S, 3), condition] -> [conditional logit (B, 1)] (+ unconditional logit for "pytorch")."""
    n = _Namer("d2")
    image = keras.Input((image_size, image_size, 3), name="image")
    condition = keras.Input((cond_dim,), name="condition")
    downs = _num_doublings(image_size)
    x = image
    for i in range(downs):
        x = _conv(x, df_dim * 2 ** (i + max(0, 6 - downs)), 4, 2, variant, n("conv"))
        x = layers.LeakyReLU(0.2, name=n("lrelu"))(x) if i == 0 else _bn(x, n("bn"), "lrelu")
    if variant == "tf":
        x = _bn(_conv(x, df_dim * 16, 1, 1, variant, n("conv")), n("bn"), "lrelu")
        x = _bn(_conv(x, df_dim * 8, 1, 1, variant, n("conv")), n("bn"))
        x = _bottleneck(x, df_dim * 2, variant, n, "lrelu")
    else:
        x = _bn(_conv(x, df_dim * 16, 3, 1, variant, n("conv")), n("bn"), "lrelu")
        x = _bn(_conv(x, df_dim * 8, 3, 1, variant, n("conv")), n("bn"), "lrelu")
    logit = _conditional_head(x, condition, c_dim, df_dim * 8, variant, n)
    if variant == "tf":
        return keras.Model([image, condition], logit, name="stage2_discriminator")
    uncond = layers.Flatten(name="uncond_logit")(_conv(x, 1, 4, 4, variant, "uncond_conv", use_bias=True, padding="valid"))
    return keras.Model([image, condition], [logit, uncond], name="stage2_discriminator")

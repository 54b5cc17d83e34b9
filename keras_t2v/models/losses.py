"""GAN losses on logits, shared by StackGAN and VGAN (computed in float32 under mixed precision)."""

from __future__ import annotations

from keras import ops


def bce_logits(target: float, logits):
    """Mean sigmoid cross-entropy of `logits` against a constant label (1 real, 0 fake)."""
    logits = ops.cast(logits, "float32")
    labels = ops.full_like(logits, target)
    return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))


def matching_aware_d_loss(real_logits, wrong_logits, fake_logits, wrong_weight: float = 0.5, fake_weight: float = 0.5):
    """StackGAN's D loss: real image + right text -> 1; wrong image + right text -> 0; fake -> 0,
    weighted 1 / 0.5 / 0.5 as the TF original (`B_WRONG`)."""
    return bce_logits(1.0, real_logits) + wrong_weight * bce_logits(0.0, wrong_logits) + fake_weight * bce_logits(0.0, fake_logits)


def mean_probability(logits):
    """Mean of sigmoid(logits): D(real), D(fake), D(wrong) in the logs."""
    return ops.mean(ops.sigmoid(ops.cast(logits, "float32")))


def mode_seeking_ratio(images, other_images, z, other_z):
    """MSGAN's ratio (Mao et al. 2019, "Mode Seeking GANs"): mean |G(c, z) - G(c, z')| over mean
    |z - z'| for two draws of the noise for one batch of codes, images (B, ...) and z (B, z_dim):
    how far apart the generator puts two noises' images. G maximises it by paying 1 / (ratio + 1e-5),
    so that z, not only the code, decides what is drawn."""
    difference = ops.mean(ops.abs(ops.cast(images, "float32") - ops.cast(other_images, "float32")))
    return difference / ops.mean(ops.abs(ops.cast(z, "float32") - ops.cast(other_z, "float32")))


def attribute_cross_entropy(logits, attributes, sizes):
    """Auxiliary-classifier loss (AC-GAN, Odena et al. 2017; TAC-GAN, Dash et al. 2017): the mean
    over attributes of the softmax cross-entropy of each attribute's slice of `logits`
    (B, sum(sizes)) against its index in `attributes` (B, len(sizes))."""
    logits = ops.cast(logits, "float32")
    losses, start = [], 0
    for i, size in enumerate(sizes):
        losses.append(ops.mean(ops.sparse_categorical_crossentropy(attributes[:, i], logits[:, start : start + size], from_logits=True)))
        start += size
    return ops.mean(ops.stack(losses))


def path_errors(paths, track, weight):
    """Each of H paths (B, H, T, 2) against the track (B, T, 2): the summed |path - track| over the
    entries where weight (B, T) is 1 -> (B, H) float32, what `winner_takes_all_l1` and
    `winner_cross_entropy` read."""
    paths, track, weight = (ops.cast(a, "float32") for a in (paths, track, weight))
    return ops.sum(ops.abs(paths - track[:, None]) * weight[:, None, :, None], axis=(2, 3))


def winner_takes_all_l1(errors, weight, loser_weight: float = 0.05):
    """Relaxed winner-takes-all L1 (Rupprecht et al. 2017, "Learning in an uncertain world"): H
    predicted paths against one observed track, from their `path_errors` (B, H) over the (clip,
    frame) entries where `weight` (B, T) is 1. Each clip pays (1 - loser_weight) x the L1 of its
    closest path and loser_weight / (H - 1) x each other path's, so that the H paths split between
    the futures a caption allows (a bounce that starts either way) instead of all learning their
    middle. With H = 1: the mean |path - track| over the weighted entries."""
    choices = errors.shape[1]
    if choices > 1:
        best = ops.one_hot(ops.argmin(errors, axis=-1), choices, dtype="float32")
        errors = errors * ((1.0 - loser_weight) * best + loser_weight / (choices - 1) * (1.0 - best))
    return ops.sum(errors) / ops.maximum(2.0 * ops.sum(ops.cast(weight, "float32")), 1.0)


def winner_cross_entropy(odds, errors, weight):
    """The odds (B, H) logits learn which of H paths is closest to the track (the least of their
    `path_errors` (B, H), `winner_takes_all_l1`'s winner), so that a caption draws the paths its
    clips take (Rupprecht et al. 2017's second stage, trained jointly here): the mean softmax
    cross-entropy over the clips with an entry where `weight` (B, T) is 1."""
    seen = ops.cast(ops.sum(ops.cast(weight, "float32"), axis=-1) > 0, "float32")
    entropy = ops.sparse_categorical_crossentropy(ops.argmin(errors, axis=-1), ops.cast(odds, "float32"), from_logits=True)
    return ops.sum(entropy * seen) / ops.maximum(ops.sum(seen), 1.0)

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

"""The video GAN as a trainable keras.Model, one train_step covering the three variants.

Per step, one discriminator update then one generator update (VGAN main.lua). With the
discriminator's two logits (real, fake), Torch's 2-way cross-entropy equals sigmoid
cross-entropy on their difference, which is what `_real_logit` feeds the losses.
- unconditional: D = [CE(real) + CE(fake)] / 2;  G = CE(fake -> real) + mask_l1 * mean(mask)
- image:         as unconditional, G adds recon_l1 * mean|fake frame 1 - input frame| (main_conditional.lua)
- text:          matching-aware D as StackGAN: real + right text -> real; real + wrong text and
                 fake + right text -> fake (weights 1, 0.5, 0.5); G as image, with the text.
The mask penalty applies whenever mask_l1 > 0 (the reference uses 0.1 only unconditionally).
With `attribute_weight` > 0 (text variant, a deviation: TAC-GAN's auxiliary classifier) D also
classifies the five attributes of the video it sees: D adds attribute_weight * CE(real video ->
its attributes), G adds attribute_weight * CE(fake video -> its caption's attributes), so the
generator is pushed to show what the caption names, not only something realistic. `attribute_head`
"flatten" (a deviation) reads the attributes from every position of D's last features, not their mean.
With `frame_guide_weight` > 0 (text variant, a deviation) G also pays frame_guide_weight * CE(judge(frame)
-> its caption's frame attributes) on `frame_guide_frames` evenly spaced frames of each fake video, where
the judge is a frozen frame classifier handed in by `use_frame_guide` (Stage-I's guide): D's own head
is a moving target, the judge a fixed one that knows what a triangle looks like in one frame.
With `conditional_bn` (text variant, a deviation) the generator's BatchNorms read the text code;
with `projection_d` (text variant, a deviation) D is a projection discriminator; `upsample`
"nearest" (a deviation) replaces G's transposed convolutions by nearest doubling + convolution; `unet_skips`
(conditional variants, a deviation) hands the frame encoder's maps to the decoder of both streams, and
`moving_skips` (text variant, a deviation) moves the foreground's copies by a shift per frame read from the text;
`sprite` (text variant, a deviation) draws the foreground once in 2D and moves it by such a shift, free per
frame or (`sprite_path` > 0) a smooth path of that many cosines, its colour drawn or (`sprite_source` "frame")
the first frame's own (models/vgan.py). With `sprite_track_weight` > 0 (a deviation) G also pays that weight x
the mean |shift - "track"| over the entries where "track_weight" is 1: the real object's centroid displacement
from frame 0 (B, T, 2) (evaluation.motion.object_tracks), where it is seen, in the clips conditioned on their
own first frame. The shift is told how the object moved in the clip whose first frame G was given. With
`sprite_path_choices` = H > 1 G keeps H paths and their odds, z draws one by the odds, the track trains the
closest (relaxed winner takes all, `winner_takes_all_l1`) and the odds learn which was closest
(`winner_cross_entropy`, logged as "path_choice"); with `sprite_track_only` the track is all that trains the path.

`train_step` takes a dict: "video" (B, T, S, S, 3) in [-1, 1]; optionally "first_frame" (B, S, S, 3),
the frame to condition on (default: the clip's own first frame; a StackGAN frame when training on
generated first frames); "embedding" and "wrong_embedding" (B, E) text codes for the text variant;
"attributes" (B, 5) int, the clip's (and its caption's) attributes, with attribute_weight or frame_guide_weight > 0;
"track" (B, T, 2) and "track_weight" (B, T) with sprite_track_weight > 0.

With `ema_decay` > 0 the model keeps `ema_generator`, an exponential moving average of the
generator's weights (BatchNorm statistics included) updated after every generator step:
ema = decay * ema + (1 - decay) * weights. `generate` samples from it.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from keras_t2v.distribute import ReplicaSeedGenerator, replica_gradients
from keras_t2v.models.gan import TwoOptimizerGAN
from keras_t2v.data.attributes import FRAME_COLUMNS, NUM_VALUES
from keras_t2v.models.losses import (attribute_cross_entropy, bce_logits, matching_aware_d_loss, mean_probability,
                                     path_errors, winner_cross_entropy, winner_takes_all_l1)
from keras_t2v.models.vgan import VARIANTS, conditional_generator, discriminator, unconditional_generator


def _real_logit(logits):
    """(B, 2) Torch-style (real, fake) logits -> (B,) logit of "real"."""
    return logits[:, 0] - logits[:, 1]


def generator_inputs(variant: str, first_frame, embedding, z):
    """What the generator of `variant` takes: z (B, Z); the first frame (B, S, S, 3); or
    [first frame, text code (B, E), z]."""
    return {"unconditional": z, "image": first_frame, "text": [first_frame, embedding, z]}[variant]


@keras.saving.register_keras_serializable(package="keras_t2v")
class VideoGAN(TwoOptimizerGAN):
    def __init__(self, variant="image", z_dim=100, gf_dim=64, df_dim=64, image_size=64, frames=32, two_stream=True,
                 text_dim=0, mask_l1=0.0, recon_l1=10.0, ema_decay=0.0, attribute_weight=0.0, conditional_bn=False,
                 projection_d=False, attribute_head="pool", frame_guide_weight=0.0, frame_guide_frames=4, upsample="transposed",
                 unet_skips=False, moving_skips=False, sprite=False, sprite_path=0, sprite_source="drawn", sprite_track_weight=0.0,
                 sprite_path_choices=1, sprite_track_only=False, seed=None, **kwargs):
        super().__init__(**kwargs)
        if variant not in VARIANTS:
            raise ValueError(f"unknown VGAN variant {variant!r}; expected one of {VARIANTS}")
        if variant == "text" and not text_dim:
            raise ValueError("the text-conditioned VGAN needs text_dim > 0")
        if unet_skips and variant == "unconditional":
            raise ValueError("unet_skips joins the first frame's encoder to the decoder; the unconditional VGAN has none")
        if (attribute_weight or conditional_bn or projection_d or frame_guide_weight) and variant != "text":
            raise ValueError("attribute_weight, conditional_bn, projection_d and frame_guide_weight need the text variant "
                             f"(only the text carries every attribute), got {variant!r}")
        self.settings = dict(variant=variant, z_dim=z_dim, gf_dim=gf_dim, df_dim=df_dim, image_size=image_size,
                             frames=frames, two_stream=two_stream, text_dim=text_dim, mask_l1=mask_l1,
                             recon_l1=recon_l1, ema_decay=ema_decay, attribute_weight=attribute_weight,
                             conditional_bn=conditional_bn, projection_d=projection_d, attribute_head=attribute_head,
                             frame_guide_weight=frame_guide_weight, frame_guide_frames=frame_guide_frames, upsample=upsample,
                             unet_skips=unet_skips, moving_skips=moving_skips, sprite=sprite, sprite_path=sprite_path,
                             sprite_source=sprite_source, sprite_track_weight=sprite_track_weight,
                             sprite_path_choices=sprite_path_choices, sprite_track_only=sprite_track_only, seed=seed)
        if not 0.0 <= ema_decay < 1.0:
            raise ValueError(f"ema_decay must be in [0, 1), got {ema_decay}")
        self.variant, self.z_dim, self.mask_l1, self.recon_l1, self.ema_decay = variant, z_dim, mask_l1, recon_l1, ema_decay
        self.attribute_weight, self.frame_guide_weight = attribute_weight, frame_guide_weight
        if frame_guide_weight and not 1 <= frame_guide_frames <= frames:
            raise ValueError(f"frame_guide_frames must be in [1, {frames}], got {frame_guide_frames}")
        self.guide_frames = np.linspace(0, frames - 1, frame_guide_frames).round().astype("int32").tolist()
        self._judge = None
        if variant == "unconditional":
            self.generator = unconditional_generator(z_dim, gf_dim, image_size, frames, two_stream, upsample)
            self.discriminator = discriminator(df_dim, image_size, frames)
        else:
            text = text_dim if variant == "text" else 0
            self.generator = conditional_generator(gf_dim, image_size, frames, two_stream, text, z_dim if text else 0,
                                                   conditional_bn, upsample, unet_skips, moving_skips, sprite, sprite_path,
                                                   sprite_source, sprite_path_choices, sprite_track_only)
            # The conditional model doubles the discriminator widths (2.5).
            self.discriminator = discriminator(df_dim * 2, image_size, frames, text,
                                               attribute_classes=sum(NUM_VALUES) if attribute_weight else 0,
                                               projection=projection_d, attribute_head=attribute_head)
        self.sprite_track_weight = sprite_track_weight
        if (sprite_track_only or sprite_path_choices > 1) and not sprite_track_weight:
            raise ValueError("sprite_track_only (the track alone trains the path) and sprite_path_choices > 1 (the track "
                             "trains the paths' odds) need sprite_track_weight > 0")
        if sprite_track_weight:
            if not sprite:
                raise ValueError("sprite_track_weight supervises the sprite's shift: it needs sprite")
            # The same layers with every path (B, H, T, 2) (and their odds) as further outputs, out of Keras' tracking (nothing new to save).
            outputs = self.generator.outputs + ([self.generator.get_layer(n).output for n in ("sprite_shift_paths", "sprite_shift_odds")]
                                                if sprite_path_choices > 1 else [ops.expand_dims(self.generator.get_layer("sprite_shift_frames").output, 1)])
            with_paths = keras.Model(self.generator.inputs, outputs)
            self._with_paths = lambda inputs: with_paths(inputs, training=True)
        self.ema_generator = None
        if ema_decay:
            self.ema_generator = keras.models.clone_model(self.generator)
            self.ema_generator.set_weights(self.generator.get_weights())
            self.ema_generator.trainable = False
        self.noise = ReplicaSeedGenerator(seed)
        self.track(("d_loss", "g_loss", "mask_l1", "recon_l1", "d_real", "d_fake") + (("d_wrong",) if variant == "text" else ())
                   + (("attribute_real", "attribute_fake") if attribute_weight else ())
                   + (("guide_fake",) if frame_guide_weight else ()) + (("track_l1",) if sprite_track_weight else ())
                   + (("path_choice",) if sprite_track_weight and sprite_path_choices > 1 else ()))
        self.built = True

    def use_frame_guide(self, guide: keras.Model) -> None:
        """The frozen judge of `frame_guide_weight`: frames (B, S, S, 3) in [-1, 1] -> logits (B, 14)
        over FRAME_ATTRIBUTES (or 20, the motion's 6 last, with stackgan.motion_head: a frame after
        the first does not show where the motion starts, so only the first 14 are used). Kept in a
        closure, out of Keras' tracking: a training loss, not part of the saved video GAN
        (train_vgan hands it in again on resume)."""
        guide.trainable = False
        self._judge = lambda frames: guide(frames, training=False)

    def _frame_guide_loss(self, fake, attributes):
        """Mean CE of the judge on the guide frames of every fake video (B, T, S, S, 3) against its
        caption's frame attributes (B, 5 -> 4 columns)."""
        if self._judge is None:
            raise ValueError("frame_guide_weight > 0 needs a frame judge: call use_frame_guide(guide) before training")
        k = len(self.guide_frames)
        frames = ops.take(ops.cast(fake, "float32"), self.guide_frames, axis=1)  # (B, K, S, S, 3)
        frames = ops.reshape(frames, (-1,) + tuple(frames.shape[2:]))  # (B * K, S, S, 3), clip-major
        labels = ops.repeat(ops.take(attributes, FRAME_COLUMNS, axis=1), k, axis=0)
        return attribute_cross_entropy(self._judge(frames), labels, tuple(NUM_VALUES[i] for i in FRAME_COLUMNS))

    def generator_inputs(self, batch_size, first_frame=None, embedding=None, z=None):
        if z is None and self.variant != "image":
            z = keras.random.normal((batch_size, self.z_dim), seed=self.noise)
        return generator_inputs(self.variant, first_frame, embedding, z)

    def generate(self, first_frame=None, embedding=None, z=None, batch_size=None, training=False, use_ema=True):
        """-> (video (B, T, S, S, 3), mask (B, T, S, S, 1), background (B, S, S, 3)), all in model range.
        Samples from the averaged generator when there is one, unless `use_ema=False`."""
        batch = batch_size or ops.shape(first_frame if first_frame is not None else embedding if embedding is not None else z)[0]
        generator = self.ema_generator if use_ema and self.ema_generator is not None else self.generator
        outputs = generator(self.generator_inputs(batch, first_frame, embedding, z), training=training)
        return tuple(ops.cast(t, "float32") for t in outputs)  # float32 whatever train.precision

    def update_ema(self):
        for average, weight in zip(self.ema_generator.weights, self.generator.weights):
            average.assign(self.ema_decay * average + (1.0 - self.ema_decay) * weight)

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)[0]

    def _d_inputs(self, video, embedding):
        return [video, embedding] if self.variant == "text" else video

    def _discriminate(self, video, embedding):
        """(logit of "real" (B,), attribute logits (B, 20) or None)."""
        out = self.discriminator(self._d_inputs(video, embedding), training=True)
        return (_real_logit(out[0]), out[1]) if self.attribute_weight else (_real_logit(out), None)

    def train_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        real = data["video"]
        batch = ops.shape(real)[0]
        first = data["first_frame"] if "first_frame" in data else real[:, 0]
        embedding = data.get("embedding")
        inputs = self.generator_inputs(batch, first, embedding)
        with tf.GradientTape() as tape:
            fake, mask, _ = self.generator(inputs, training=True)
            real_logit, real_attributes = self._discriminate(real, embedding)
            fake_logit, _ = self._discriminate(ops.stop_gradient(fake), embedding)
            if self.variant == "text":
                wrong_logit, _ = self._discriminate(real, data["wrong_embedding"])
                d_loss = matching_aware_d_loss(real_logit, wrong_logit, fake_logit)
            else:
                d_loss = 0.5 * (bce_logits(1.0, real_logit) + bce_logits(0.0, fake_logit))
            if self.attribute_weight:
                attribute_real = attribute_cross_entropy(real_attributes, data["attributes"], NUM_VALUES)
                d_loss = d_loss + self.attribute_weight * attribute_real
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(replica_gradients(tape, d_loss, d_vars), d_vars))

        with tf.GradientTape() as tape:
            if self.sprite_track_weight:
                fake, mask, _, paths, *odds = self._with_paths(inputs)
            else:
                fake, mask, _ = self.generator(inputs, training=True)
            fake_logit_g, fake_attributes = self._discriminate(fake, embedding)
            adversarial = bce_logits(1.0, fake_logit_g)
            mask_term = ops.mean(ops.cast(mask, "float32"))
            recon = ops.mean(ops.abs(ops.cast(fake[:, 0], "float32") - first)) if self.variant != "unconditional" else ops.zeros(())
            g_loss = adversarial + self.mask_l1 * mask_term + self.recon_l1 * recon
            if self.attribute_weight:
                attribute_fake = attribute_cross_entropy(fake_attributes, data["attributes"], NUM_VALUES)
                g_loss = g_loss + self.attribute_weight * attribute_fake
            if self.frame_guide_weight:
                guide_fake = self._frame_guide_loss(fake, data["attributes"])
                g_loss = g_loss + self.frame_guide_weight * guide_fake
            if self.sprite_track_weight:
                errors = path_errors(paths, data["track"], data["track_weight"])
                track_l1 = winner_takes_all_l1(errors, data["track_weight"])
                g_loss = g_loss + self.sprite_track_weight * track_l1
                if odds:
                    path_choice = winner_cross_entropy(odds[0], errors, data["track_weight"])
                    g_loss = g_loss + self.sprite_track_weight * path_choice
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(replica_gradients(tape, g_loss, g_vars), g_vars))
        if self.ema_generator is not None:
            self.update_ema()

        values = {"d_loss": d_loss, "g_loss": g_loss, "mask_l1": mask_term, "recon_l1": recon,
                  "d_real": mean_probability(real_logit), "d_fake": mean_probability(fake_logit)}
        if self.variant == "text":
            values["d_wrong"] = mean_probability(wrong_logit)
        if self.attribute_weight:
            values |= {"attribute_real": attribute_real, "attribute_fake": attribute_fake}
        if self.frame_guide_weight:
            values["guide_fake"] = guide_fake
        if self.sprite_track_weight:
            values["track_l1"] = track_l1
            if odds:
                values["path_choice"] = path_choice
        return self.update_metrics(values)

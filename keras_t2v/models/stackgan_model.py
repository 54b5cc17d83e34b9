"""StackGAN Stage-I and Stage-II as trainable keras.Models with their own train_step.

Per step, as both originals: one discriminator update, then one generator update.
    D loss = BCE(D(real, t), 1) + 0.5 BCE(D(wrong, t), 0) + 0.5 BCE(D(fake, t), 0)
    G loss = BCE(D(fake, t), 1) + kl_coeff * KL(CA)
where t is the raw text code (TF) or the generator's CA mean, gradient stopped (PyTorch), and
"wrong" is a real frame of another attribute combination paired with this caption. The PyTorch
port reuses the step's fakes for the G update; the TF original draws z again; both are followed.
With `attribute_weight` > 0 (Stage-I, a deviation: TAC-GAN's auxiliary classifier) D also
classifies a frame's shape, colour, size and background; D adds attribute_weight * CE(real frame
-> its attributes), G adds attribute_weight * CE(fake -> its caption's attributes); with
`classify_fakes` D's classifier also learns fakes as their captions' attributes, as in AC-GAN
(Odena et al. 2017): D adds attribute_weight * CE(fake -> its caption's attributes) too. With
`guide_weight` G also pays guide_weight * CE(guide(fake) -> its caption's attributes), where the
guide is a frozen copy of D's trunk and attribute head taken when D's pre-training as a classifier
ends (`freeze_guide`): a fixed judge of what G drew, as AttnGAN's pre-trained DAMSM (Xu et al.
2018) is for words, where D's own head moves with the game. With `motion_head` (a deviation) the
attribute head and the guide also name the caption's motion from the frame: the first frame of a
clip shows where its object starts (the right side for "left", the top for "down"), so G learns to
put it there; its logits follow the frame attributes' 14, which stay the first.
`conditional_bn` and `projection_d` (deviations) condition G's every BatchNorm on the CA code and
make D a projection discriminator; see models/stackgan.py. With `mode_seeking_weight` (a deviation:
MSGAN, Mao et al. 2019) G also pays mode_seeking_weight / (mean |G(t, z) - G(t, z')| / mean |z - z'|
+ 1e-5), where z' is the noise of the step's D update and G(t, z') its fakes, gradient stopped
(the TF original's two draws, so the term costs no extra pass; MSGAN back-propagates through both,
this through one, half its gradient): a Stage-I drawing from the mean code varies its frames only
through z, and without the term it lets z move the object too little. At weight 1 on Captioned
Moving Shapes it also lets z switch the background (README "Mode seeking in Stage-I").
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, FRAME_COLUMNS, NUM_VALUES
from keras_t2v.distribute import ReplicaSeedGenerator, replica_gradients
from keras_t2v.models.layers import ca_kl
from keras_t2v.models.gan import TwoOptimizerGAN
from keras_t2v.models.losses import attribute_cross_entropy, bce_logits, matching_aware_d_loss, mean_probability, mode_seeking_ratio
from keras_t2v.models.stackgan import stage1_discriminator, stage1_generator, stage2_discriminator, stage2_generator


class _SavesConditioningNoise:
    """Keeps the generator's CA noise scales (`generation_noise`, `training_noise`: settings, not
    weights) in the saved config: a loaded model draws as it did when saved, not with StackGAN's 1.0."""

    def _set_conditioning_noise(self, generation_noise: float, training_noise: float) -> None:
        ca = self.generator.get_layer("ca")
        ca.generation_noise, ca.training_noise = generation_noise, training_noise

    def get_config(self):
        ca = self.generator.get_layer("ca")
        return {**super().get_config(), "generation_noise": ca.generation_noise, "training_noise": ca.training_noise}


@keras.saving.register_keras_serializable(package="keras_t2v")
class StackGANStageI(_SavesConditioningNoise, TwoOptimizerGAN):
    """Generator [embedding (B, E), z (B, z_dim)] -> (B, S, S, 3); discriminator -> logits (B, 1).

    `train_step` takes a dict: "image" (B, S, S, 3) in [-1, 1], "embedding" (B, E), "wrong_image";
    with attribute_weight > 0 also "attributes" (B, 5) int, the clip's (and its caption's).
    """


    def __init__(self, embed_dim=512, c_dim=128, z_dim=100, gf_dim=128, df_dim=64, image_size=64, variant="tf",
                 kl_coeff=2.0, attribute_weight=0.0, classify_fakes=False, guide_weight=0.0, conditional_bn=False,
                 projection_d=False, motion_head=False, mode_seeking_weight=0.0, generation_noise=1.0, training_noise=1.0,
                 seed=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(embed_dim=embed_dim, c_dim=c_dim, z_dim=z_dim, gf_dim=gf_dim, df_dim=df_dim,
                             image_size=image_size, variant=variant, kl_coeff=kl_coeff, attribute_weight=attribute_weight,
                             classify_fakes=classify_fakes, guide_weight=guide_weight, conditional_bn=conditional_bn,
                             projection_d=projection_d, motion_head=motion_head, mode_seeking_weight=mode_seeking_weight, seed=seed)
        self.variant, self.z_dim, self.kl_coeff, self.attribute_weight = variant, z_dim, kl_coeff, attribute_weight
        self.classify_fakes, self.guide_weight, self.mode_seeking_weight = classify_fakes, guide_weight, mode_seeking_weight
        if mode_seeking_weight and variant != "tf":
            raise ValueError("mode_seeking_weight compares G's fakes with the D step's, drawn from another z: it needs "
                             "variant 'tf', which draws z again for G (the PyTorch port reuses the D step's fakes)")
        if motion_head and not attribute_weight:
            raise ValueError("motion_head adds the motion to D's attribute head: it needs attribute_weight > 0")
        self.attribute_columns = FRAME_COLUMNS + ((ATTRIBUTE_NAMES.index("motion"),) if motion_head else ())
        self.attribute_sizes = tuple(NUM_VALUES[i] for i in self.attribute_columns)
        self.generator = stage1_generator(embed_dim, c_dim, z_dim, gf_dim, image_size, variant, seed, conditional_bn)
        self._set_conditioning_noise(generation_noise, training_noise)
        cond_dim = embed_dim if variant == "tf" else c_dim
        build_discriminator = lambda: stage1_discriminator(  # noqa: E731
            cond_dim, c_dim, df_dim, image_size, variant, attribute_classes=sum(self.attribute_sizes) if attribute_weight else 0,
            projection=projection_d)
        self.discriminator = build_discriminator()
        if guide_weight:
            if not attribute_weight:
                raise ValueError("guide_weight copies D's attribute head: it needs attribute_weight > 0")
            self.guide = self.attribute_classifier(build_discriminator())
            self.guide.trainable = False
        self.noise = ReplicaSeedGenerator(None if seed is None else seed + 1)
        self.track(("d_loss", "g_loss", "kl", "d_real", "d_fake", "d_wrong") + (("attribute_real", "attribute_fake") if attribute_weight else ())
                   + (("guide_fake",) if guide_weight else ()) + (("mode_seeking",) if mode_seeking_weight else ()))
        self.built = True

    def sample_noise(self, batch):
        return keras.random.normal((batch, self.z_dim), seed=self.noise)

    def generate(self, embedding, z=None, training=False):
        """(B, E) text codes [, (B, z_dim) noise] -> (B, S, S, 3) images in [-1, 1]."""
        z = self.sample_noise(ops.shape(embedding)[0]) if z is None else z
        return ops.cast(self.generator([embedding, z], training=training)[0], "float32")

    def call(self, embedding, training=False):
        return self.generate(embedding, training=training)

    def _condition(self, embedding, mu):
        return embedding if self.variant == "tf" else ops.stop_gradient(mu)

    def _discriminate(self, image, condition):
        """(logits (B, 1), attribute logits (B, 14, or 20 with motion_head) or None)."""
        out = self.discriminator([image, condition], training=True)
        return (out[0], out[1]) if self.attribute_weight else (out, None)

    def _attribute_loss(self, logits, attributes):
        return attribute_cross_entropy(logits, ops.take(attributes, self.attribute_columns, axis=1), self.attribute_sizes)

    def attribute_classifier(self, discriminator: keras.Model | None = None) -> keras.Model:
        """image (B, S, S, 3) -> attribute logits (B, 14, or 20 with motion_head): D's trunk and
        auxiliary head as a model of their own that shares D's weights (stackgan.d_pretrain_epochs
        trains it before the GAN)."""
        if not self.attribute_weight:
            raise ValueError("the discriminator has no attribute head: attribute_weight is 0")
        discriminator = discriminator or self.discriminator
        return keras.Model(discriminator.inputs[0], discriminator.get_layer("attribute_logits").output,
                           name="stage1_attribute_classifier")

    def freeze_guide(self) -> None:
        """The guide becomes a copy of D's trunk and attribute head as they are now (after D's
        pre-training) and stays so."""
        self.guide.set_weights(self.attribute_classifier().get_weights())

    def train_step(self, data):
        if isinstance(data, tuple):  # (x,) from train_on_batch / fit without targets
            data = data[0]
        real, embedding, wrong = data["image"], data["embedding"], data["wrong_image"]
        z = d_z = self.sample_noise(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            fake, mu, _ = self.generator([embedding, z], training=True)
            condition = self._condition(embedding, mu)
            real_logits, real_attributes = self._discriminate(real, condition)
            wrong_logits, _ = self._discriminate(wrong, condition)
            fake_logits, fake_attributes = self._discriminate(ops.stop_gradient(fake), condition)
            d_loss = matching_aware_d_loss(real_logits, wrong_logits, fake_logits)
            if self.attribute_weight:
                attribute_real = self._attribute_loss(real_attributes, data["attributes"])
                d_loss = d_loss + self.attribute_weight * attribute_real
                if self.classify_fakes:
                    d_loss = d_loss + self.attribute_weight * self._attribute_loss(fake_attributes, data["attributes"])
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(replica_gradients(tape, d_loss, d_vars), d_vars))

        d_fake = ops.stop_gradient(fake)
        if self.variant == "tf":
            z = self.sample_noise(ops.shape(real)[0])
        with tf.GradientTape() as tape:
            fake, mu, log_sigma = self.generator([embedding, z], training=True)
            fake_logits_g, fake_attributes = self._discriminate(fake, self._condition(embedding, mu))
            kl = ca_kl(mu, log_sigma)
            g_loss = bce_logits(1.0, fake_logits_g) + self.kl_coeff * kl
            if self.attribute_weight:
                attribute_fake = self._attribute_loss(fake_attributes, data["attributes"])
                g_loss = g_loss + self.attribute_weight * attribute_fake
            if self.guide_weight:
                guide_fake = self._attribute_loss(self.guide(fake, training=False), data["attributes"])
                g_loss = g_loss + self.guide_weight * guide_fake
            if self.mode_seeking_weight:
                mode_seeking = mode_seeking_ratio(fake, d_fake, z, d_z)
                g_loss = g_loss + self.mode_seeking_weight / (mode_seeking + 1e-5)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(replica_gradients(tape, g_loss, g_vars), g_vars))

        values = {"d_loss": d_loss, "g_loss": g_loss, "kl": kl, "d_real": mean_probability(real_logits),
                  "d_fake": mean_probability(fake_logits), "d_wrong": mean_probability(wrong_logits)}
        if self.attribute_weight:
            values |= {"attribute_real": attribute_real, "attribute_fake": attribute_fake}
        if self.guide_weight:
            values["guide_fake"] = guide_fake
        if self.mode_seeking_weight:
            values["mode_seeking"] = mode_seeking
        return self.update_metrics(values)


@keras.saving.register_keras_serializable(package="keras_t2v")
class StackGANStageII(_SavesConditioningNoise, TwoOptimizerGAN):
    """Generator [Stage-I image (B, s, s, 3), embedding (B, E)] -> (B, 4s, 4s, 3); discriminator ->
    conditional logits (B, 1) (+ unconditional logits (B, 1) in the PyTorch variant).

    `train_step` takes a dict: "low_res" (B, s, s, 3), the frozen Stage-I's images for the captions;
    "image" and "wrong_image" (B, 4s, 4s, 3) real frames; "embedding" (B, E). Losses as Stage-I;
    the PyTorch variant adds its unconditional head (reference 1.8):
        D = (real + uncond_real) / 2 + (fake + wrong + uncond_fake) / 3
        G = BCE(cond(fake) -> 1) + BCE(uncond(fake) -> 1) + kl_coeff * KL
    """

    def __init__(self, embed_dim=512, c_dim=128, gf_dim=128, df_dim=64, r_num=4, input_size=64, variant="tf",
                 kl_coeff=2.0, generation_noise=1.0, training_noise=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.settings = dict(embed_dim=embed_dim, c_dim=c_dim, gf_dim=gf_dim, df_dim=df_dim, r_num=r_num,
                             input_size=input_size, variant=variant, kl_coeff=kl_coeff, seed=seed)
        self.variant, self.kl_coeff = variant, kl_coeff
        self.generator = stage2_generator(embed_dim, c_dim, gf_dim, r_num, input_size, variant, seed)
        self._set_conditioning_noise(generation_noise, training_noise)
        cond_dim = embed_dim if variant == "tf" else c_dim
        self.discriminator = stage2_discriminator(cond_dim, c_dim, df_dim, 4 * input_size, variant)
        self.track(("d_loss", "g_loss", "kl", "d_real", "d_fake", "d_wrong"))
        self.built = True

    def generate(self, low_res, embedding, training=False):
        """(B, s, s, 3) Stage-I images and (B, E) text codes -> (B, 4s, 4s, 3) images in [-1, 1]."""
        return ops.cast(self.generator([low_res, embedding], training=training)[0], "float32")

    def call(self, inputs, training=False):
        return self.generate(*inputs, training=training)

    def _logits(self, image, condition):
        """(conditional, unconditional or None) logits."""
        out = self.discriminator([image, condition], training=True)
        return (out[0], out[1]) if self.variant == "pytorch" else (out, None)

    def train_step(self, data):
        if isinstance(data, tuple):
            data = data[0]
        low, real, embedding, wrong = data["low_res"], data["image"], data["embedding"], data["wrong_image"]
        with tf.GradientTape() as tape:
            fake, mu, _ = self.generator([low, embedding], training=True)
            condition = embedding if self.variant == "tf" else ops.stop_gradient(mu)
            real_logits, real_uncond = self._logits(real, condition)
            wrong_logits, _ = self._logits(wrong, condition)
            fake_logits, fake_uncond = self._logits(ops.stop_gradient(fake), condition)
            if self.variant == "tf":
                d_loss = matching_aware_d_loss(real_logits, wrong_logits, fake_logits)
            else:
                d_loss = (bce_logits(1.0, real_logits) + bce_logits(1.0, real_uncond)) / 2 + (
                    bce_logits(0.0, fake_logits) + bce_logits(0.0, wrong_logits) + bce_logits(0.0, fake_uncond)) / 3
        d_vars = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(replica_gradients(tape, d_loss, d_vars), d_vars))

        with tf.GradientTape() as tape:
            fake, mu, log_sigma = self.generator([low, embedding], training=True)
            condition = embedding if self.variant == "tf" else ops.stop_gradient(mu)
            cond_logits, uncond_logits = self._logits(fake, condition)
            kl = ca_kl(mu, log_sigma)
            g_loss = bce_logits(1.0, cond_logits) + self.kl_coeff * kl
            if uncond_logits is not None:
                g_loss += bce_logits(1.0, uncond_logits)
        g_vars = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(replica_gradients(tape, g_loss, g_vars), g_vars))

        values = {"d_loss": d_loss, "g_loss": g_loss, "kl": kl, "d_real": mean_probability(real_logits),
                  "d_fake": mean_probability(fake_logits), "d_wrong": mean_probability(wrong_logits)}
        return self.update_metrics(values)

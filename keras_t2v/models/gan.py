"""What both GANs share: two optimizers, their (re)compilation, loss trackers, the config."""

from __future__ import annotations

import keras


class TwoOptimizerGAN(keras.Model):
    """Base of StackGANStageI and VideoGAN: a `generator` and a `discriminator` sub-model, each with
    its own optimizer (Adam 2e-4, beta1 0.5 by default, as both originals).

    Subclasses set `self.settings` (their constructor arguments), `self.generator`,
    `self.discriminator` and call `self.track(names)`.
    """

    def track(self, names) -> None:
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def update_metrics(self, values: dict) -> dict:
        for name, value in values.items():
            self.trackers[name].update_state(value)
        return {name: tracker.result() for name, tracker in self.trackers.items()}

    def compile(self, d_optimizer=None, g_optimizer=None, **kwargs):
        super().compile(**kwargs)
        self.d_optimizer = d_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        self.g_optimizer = g_optimizer or keras.optimizers.Adam(2e-4, beta_1=0.5)
        # Built now, so that a reloaded model restores their state along with the weights.
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self.g_optimizer.build(self.generator.trainable_variables)

    def compile_adam(self, learning_rate: float = 2e-4, beta_1: float = 0.5, **kwargs):
        """`compile` with one Adam(learning_rate, beta_1) per network, as both originals; returns self."""
        adam = lambda: keras.optimizers.Adam(learning_rate, beta_1=beta_1)  # noqa: E731
        self.compile(d_optimizer=adam(), g_optimizer=adam(), **kwargs)
        return self

    def get_compile_config(self):
        return {"d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
                "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer)}

    def compile_from_config(self, config):
        self.compile(d_optimizer=keras.saving.deserialize_keras_object(config["d_optimizer"]),
                     g_optimizer=keras.saving.deserialize_keras_object(config["g_optimizer"]))

    def get_config(self):
        return {**super().get_config(), **self.settings}

"""train.precision: "float32", "mixed_bfloat16" (bfloat16 compute, float32 weights and losses), or
"auto", which a run resolves when it is opened (Run.open) to mixed_bfloat16 where the hardware computes
in bfloat16 natively and to float32 elsewhere (where bfloat16 is emulated and slower than float32).
The run's config.yaml records the resolved value, so it says what was trained.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

PRECISIONS = ("float32", "mixed_bfloat16")
# CPU flags of bfloat16 arithmetic in hardware (Intel Cooper Lake+ and AMD Zen 4+; Sapphire Rapids AMX).
BFLOAT16_CPU_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> set[str]:
    """The CPU's feature flags from Linux's /proc/cpuinfo (empty where it cannot be read)."""
    try:
        lines = Path(cpuinfo).read_text().splitlines()
    except OSError:
        return set()
    return {flag for line in lines if line.startswith("flags") for flag in line.partition(":")[2].split()}


def native_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """True with a GPU of compute capability 8.0 or more (Ampere+), or a CPU with bfloat16 flags."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        return all(tf.config.experimental.get_device_details(g).get("compute_capability", (0, 0)) >= (8, 0) for g in gpus)
    return bool(cpu_flags(cpuinfo) & BFLOAT16_CPU_FLAGS)


def resolve_precision(name: str, native: bool | None = None) -> str:
    """`name` itself, or for "auto" mixed_bfloat16 when `native` (default: native_bfloat16()), else float32."""
    if name == "auto":
        return "mixed_bfloat16" if (native_bfloat16() if native is None else native) else "float32"
    if name not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {(*PRECISIONS, 'auto')}, got {name!r}")
    return name


def with_resolved_precision(config):
    """`config` with train.precision resolved (a copy when it was "auto", else `config` itself)."""
    if config.train.precision != "auto":
        return config
    train = dataclasses.replace(config.train, precision=resolve_precision("auto"))
    return dataclasses.replace(config, train=train)


def in_float32(model):
    """`model` itself when every layer computes in float32, else a float32 copy with its weights.

    Keras saves each layer's dtype policy in the .keras file, so a functional model trained under
    mixed_bfloat16 (the text encoder of a bfloat16 run) reloads computing in bfloat16, which a CPU
    without bfloat16 hardware emulates. The GAN models rebuild their networks in the loading process's
    policy; this gives a plain functional model the same for inference."""
    import keras

    if all(layer.dtype_policy.name == "float32" for layer in model._flatten_layers()):
        return model

    def rebuilt(layer):
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(model, clone_function=rebuilt)
    copy.set_weights(model.get_weights())
    return copy

"""Training speed of every stage, text-to-GIF latency and how much of the machine they use.

    python -m keras_t2v.bench                                   # quick and paper presets
    python -m keras_t2v.bench --presets paper --stages stackgan,vgan_image,vgan_text \\
        --batch stackgan=16 --batch vgan=8 --steps 5               # the tf.distribute issue's benchmark
    python -m keras_t2v.bench --run-dir runs/quick               # adds text-to-GIF latency, cold and warm
    python -m keras_t2v.bench --precision float32,mixed_bfloat16 # each stage in both (train.precision)
    python -m keras_t2v.bench --jit-compile off,on               # without and with XLA (train.jit_compile)

Each (preset, stage) runs in its own process (so its peak memory is its own): the stage's model
is built at the preset's sizes, two train steps warm up (tracing, and XLA compilation with
`--jit-compile on`; their time is reported), then `--steps` steps on random batches are timed. FLOPs per step are counted from the networks' convolution and dense layers
(`forward_flops`, per sample) times the passes a train step makes: a pass whose weights get
gradients costs about 3 forwards (forward, gradients to inputs and to weights), a pass
differentiated only with respect to its input (the discriminator in the generator step) 2, a
pass under stop-gradient 1. Utilisation = achieved FLOP/s over this machine's measured fp32 matmul FLOP/s
(2048 x 2048 `tf.matmul`). Writes <out>/bench.json and <out>/bench.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

STAGES = ("vae", "joint", "stackgan", "stackgan2", "vgan_unconditional", "vgan_image", "vgan_text")


def forward_flops(model) -> int:
    """Multiply-adds x 2 of one sample through the convolution and dense layers of a functional
    model (nested models included); BatchNorm, activations and the like are left out (< 2 %)."""
    import keras
    import numpy as np

    size = lambda shape: int(np.prod(shape[1:], dtype=np.int64))  # noqa: E731  (per sample)
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += forward_flops(layer)
        elif isinstance(layer, keras.layers.SeparableConv2D):  # depthwise, then pointwise
            kh, kw, channels, _ = layer.depthwise_kernel.shape
            total += 2 * size(layer.output.shape[:-1]) * (kh * kw * channels) + 2 * size(layer.output.shape) * channels
        elif "Transpose" in type(layer).__name__:  # every input value meets the whole kernel
            total += 2 * size(layer.input.shape) * int(np.prod(layer.kernel.shape[:-2])) * layer.kernel.shape[-2]
        elif isinstance(layer, (keras.layers.Dense, keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
            total += 2 * size(layer.output.shape) * int(np.prod(layer.kernel.shape[:-1]))
    return total


def _setup(stage: str, config, batch_size: int | None, jit_compile: bool = False):
    """(compiled model, x, y, batch size, passes): passes = [(network, passes with weight gradients,
    passes with input gradients only, forward-only passes)] of one train step."""
    import numpy as np

    from keras_t2v.models.stackgan_model import StackGANStageI, StackGANStageII
    from keras_t2v.models.vgan_model import VideoGAN
    from keras_t2v.text.joint_embedding import JointEmbedding
    from keras_t2v.text.vae import TextVAE

    rng = np.random.default_rng(0)
    d, w, sg, v, j = config.data, config.words, config.stackgan, config.vgan, config.joint
    s, t, sentence = d.image_size, d.num_frames, w.vector_size * w.max_words
    uniform = lambda *shape: rng.uniform(-1, 1, shape).astype("float32")  # noqa: E731
    if stage == "vae":
        b = batch_size or config.vae.batch_size
        model = TextVAE(sentence, config.vae.intermediate_dim, config.vae.latent_dim, seed=0)
        model.compile(optimizer="rmsprop", jit_compile=jit_compile)
        return model, uniform(b, sentence), None, b, [(model.encoder, 1, 0, 0), (model.decoder, 1, 0, 0)]
    if stage == "joint":
        b = batch_size or j.batch_size
        model = JointEmbedding(sentence, config.vae.intermediate_dim, config.vae.latent_dim, j.hidden_dim, j.embed_dim, j.dropout,
                               j.frame_tower, s, j.cnn_filters, activation=j.activation, finetune_vae=j.finetune_vae,
                               text_input=j.text_input, loss=j.loss, clip_frames=j.clip_frames,
                               word_dim=config.words.vector_size)
        model.compile(optimizer="adam", jit_compile=jit_compile)
        y = rng.permutation(b) if j.loss == "infonce" else rng.integers(0, 2, b).astype("float32")  # keys or pair labels
        x = (uniform(b, sentence), uniform(b, s, s, 3 * j.clip_frames))
        return model, x, y, b, [(model.text_tower, 1, 0, 0), (model.frame_tower, 1, 0, 0)]
    embed = j.embed_dim
    if stage in ("stackgan", "stackgan2"):
        b = batch_size or sg.batch_size
        if stage == "stackgan":
            model = StackGANStageI(embed, sg.c_dim, sg.z_dim, sg.gf_dim, sg.df_dim, s, sg.variant, seed=0)
            batch = {"image": uniform(b, s, s, 3), "embedding": uniform(b, embed), "wrong_image": uniform(b, s, s, 3)}
        else:
            model = StackGANStageII(embed, sg.c_dim, sg.gf_dim, sg.df_dim, sg.r_num, s, sg.variant, seed=0)
            batch = {"low_res": uniform(b, s, s, 3), "image": uniform(b, 4 * s, 4 * s, 3), "embedding": uniform(b, embed),
                     "wrong_image": uniform(b, 4 * s, 4 * s, 3)}
        model.compile_adam(jit_compile=jit_compile)
        # D step: G forward (stopped), D on real, wrong and fake; G step: G, then D (input gradients).
        return model, batch, None, b, [(model.generator, 1, 0, 1), (model.discriminator, 3, 1, 0)]
    variant = stage.removeprefix("vgan_")
    b = batch_size or v.batch_size
    model = VideoGAN(variant, v.z_dim, v.gf_dim, v.df_dim, s, t, v.two_stream, embed if variant == "text" else 0, seed=0)
    model.compile_adam(jit_compile=jit_compile)
    batch = {"video": uniform(b, t, s, s, 3)}
    if variant == "text":
        batch |= {"embedding": uniform(b, embed), "wrong_embedding": uniform(b, embed)}
    return model, batch, None, b, [(model.generator, 1, 0, 1), (model.discriminator, 3 if variant == "text" else 2, 1, 0)]


def machine_name() -> str:
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores"


def matmul_flops_per_second(n: int = 2048, repeats: int = 10) -> float:
    """This machine's fp32 matmul throughput (FLOP/s), the reference for utilisation."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        c = tf.matmul(a, b)
    c.numpy()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def bench_stage(preset: str, stage: str, steps: int, batch_size: int | None, precision: str = "float32",
                jit_compile: bool = False) -> dict:
    """Times `steps` train steps of `stage` at `preset` sizes (after 2 warm-up steps, timed apart)."""
    import keras

    from keras_t2v.config import get_preset
    from keras_t2v.stages import dtype_policy

    config = get_preset(preset)
    keras.utils.set_random_seed(0)
    with dtype_policy(precision):
        model, x, y, size, passes = _setup(stage, config, batch_size, jit_compile)
    start = time.perf_counter()
    for _ in range(2):
        model.train_on_batch(x, y)
    warmup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    seconds = (time.perf_counter() - start) / steps
    flops = size * sum(forward_flops(net) * (3 * weights + 2 * inputs + forward) for net, weights, inputs, forward in passes)
    params = int(sum(w.numpy().size for w in model.trainable_weights))
    return {"preset": preset, "stage": stage, "precision": precision, "jit_compile": jit_compile, "batch": size, "warmup_s": warmup,
            "seconds_per_step": seconds, "steps_per_s": 1 / seconds,
            "samples_per_s": size / seconds, "gflop_per_step": flops / 1e9, "gflop_per_s": flops / seconds / 1e9,
            "trainable_params": params, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def bench_latency(run_dir: str, prompt: str) -> dict:
    """Text-to-GIF seconds: cold (a fresh `python -m keras_t2v.generate` process) and warm (the
    second call of a loaded TextToVideo, GIF export included)."""
    import tempfile

    from keras_t2v.export import export_to_gif
    from keras_t2v.pipeline import TextToVideo

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "keras_t2v.generate", prompt, "--run-dir", run_dir, "--out", f"{tmp}/cold.gif"],
                       check=True, capture_output=True)
        cold = time.perf_counter() - start
        pipe = TextToVideo.from_pretrained(run_dir)
        export_to_gif(pipe(prompt, seed=0).frames[0], f"{tmp}/warmup.gif")
        start = time.perf_counter()
        export_to_gif(pipe(prompt, seed=1).frames[0], f"{tmp}/warm.gif")
        warm = time.perf_counter() - start
    return {"run_dir": run_dir, "cold_s": cold, "warm_s": warm}


def markdown(results: dict) -> str:
    peak = results["matmul_gflop_per_s"]
    lines = [f"Machine: {results['machine']}; fp32 matmul (2048^2): {peak:.1f} GFLOP/s", "",
             "| preset | stage | precision | XLA | batch | warm-up (s) | steps/s | samples/s | GFLOP/step | GFLOP/s | share of fp32 matmul | peak RSS (MB) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results["stages"]:
        lines.append(f"| {r['preset']} | {r['stage']} | {r['precision']} | {'on' if r['jit_compile'] else 'off'} | {r['batch']} | "
                     f"{r['warmup_s']:.1f} | {r['steps_per_s']:.3f} | {r['samples_per_s']:.2f} | "
                     f"{r['gflop_per_step']:.1f} | {r['gflop_per_s']:.1f} | {r['gflop_per_s'] / peak:.0%} | {r['peak_rss_mb']:.0f} |")
    if results.get("latency"):
        lat = results["latency"]
        lines += ["", f"Text to GIF ({lat['run_dir']}): cold {lat['cold_s']:.1f} s (new process), warm {lat['warm_s']:.2f} s"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--presets", default="quick,paper")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {', '.join(STAGES)}")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per stage")
    parser.add_argument("--batch", action="append", default=[], metavar="STAGE=N",
                        help="batch size of a stage (vgan applies to every VGAN variant); default the preset's")
    parser.add_argument("--run-dir", default=None, help="a trained run: also measure text-to-GIF latency")
    parser.add_argument("--prompt", default="a big blue box bounces up and down on a gray background")
    parser.add_argument("--out", default="runs/bench")
    parser.add_argument("--precision", default="float32", help="comma list of float32, mixed_bfloat16")
    parser.add_argument("--jit-compile", default="off", help="comma list of off, on (XLA)")
    parser.add_argument("--one", nargs=4, metavar=("PRESET", "STAGE", "PRECISION", "JIT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    batches = dict(item.split("=", 1) for item in args.batch)

    def batch_of(stage):
        value = batches.get(stage) or (batches.get("vgan") if stage.startswith("vgan") else None)
        return int(value) if value else None

    if args.one:
        preset, stage, precision, jit = args.one
        print("RESULT " + json.dumps(bench_stage(preset, stage, args.steps, batch_of(stage), precision, jit == "on")))
        return 0
    stages = [s.strip() for s in args.stages.split(",")]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        parser.error(f"unknown stage {', '.join(unknown)}; choose from {', '.join(STAGES)}")
    results = {"machine": machine_name(), "matmul_gflop_per_s": matmul_flops_per_second() / 1e9,
               "steps": args.steps, "stages": []}
    jits = args.jit_compile.split(",")
    if set(jits) - {"off", "on"}:
        parser.error(f"--jit-compile takes off and/or on, got {args.jit_compile!r}")
    jobs = [(p, s, q, j) for p in args.presets.split(",") for s in stages for q in args.precision.split(",") for j in jits]
    for preset, stage, precision, jit in jobs:
        command = [sys.executable, "-m", "keras_t2v.bench", "--one", preset, stage, precision, jit, "--steps", str(args.steps)]
        done = subprocess.run(command + [f"--batch={item}" for item in args.batch], capture_output=True, text=True)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{preset} {stage} {precision} XLA {jit}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        r = json.loads(line[len("RESULT "):])
        results["stages"].append(r)
        print(f"{preset:6s} {stage:20s} {precision:15s} XLA {jit:3s} {r['samples_per_s']:8.2f} samples/s  {r['gflop_per_s']:7.1f} GFLOP/s", flush=True)
    if args.run_dir:
        results["latency"] = bench_latency(args.run_dir, args.prompt)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.json").write_text(json.dumps(results, indent=1))
    (out / "bench.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

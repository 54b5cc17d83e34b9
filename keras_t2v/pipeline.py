"""TextToVideo: the trained stages chained for inference, in the style of diffusers pipelines.

    from keras_t2v.pipeline import TextToVideo
    from keras_t2v.export import export_to_gif
    pipe = TextToVideo.from_pretrained("runs/quick")
    out = pipe("a big blue box bounces up and down on a gray background", seed=0)
    export_to_gif(out.frames[0], "box.gif", fps=8)

caption -> word vectors (25 x 300) -> joint text encoder -> StackGAN Stage-I frame -> VGAN video
(and, when the run has it, the Stage-II refinement of the Stage-I frame at 4x its size).
Every model file is loaded with Keras safe mode; word vectors from Facebook .bin (no pickle).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import keras
import numpy as np

from keras_t2v.data.attributes import one_hot
from keras_t2v.data.captions import CaptionError, parse_caption
from keras_t2v.export import to_uint8
from keras_t2v.models import stackgan_model, vgan_model  # noqa: F401  (registers the classes for loading)
from keras_t2v.runs import Run
from keras_t2v.text.word_vectors import SentenceEncoder, sentence_encoder


@dataclasses.dataclass
class TextToVideoOutput:
    frames: np.ndarray  # (B, T, H, W, 3) uint8, B = len(prompts) * num_samples, prompt-major
    first_frames: np.ndarray  # (B, H, W, 3) uint8, the StackGAN Stage-I frames the videos start from
    stage2_frames: np.ndarray | None  # (B, 4H, 4W, 3) uint8, Stage-II's refinement, when the run has Stage-II
    masks: np.ndarray  # (B, T, H, W, 1) float32 in [0, 1], VGAN's foreground mask
    backgrounds: np.ndarray  # (B, H, W, 3) uint8, VGAN's static background stream
    prompts: list[str]  # the prompt of each row


class TextToVideo:
    """encoder: words -> (25 * D) sentence; text_encoder: sentence -> GAN code, or None when the GANs
    were trained on one-hot attribute codes (joint.gan_code = "attributes"), parsed from the prompt."""

    def __init__(self, encoder: SentenceEncoder, text_encoder: keras.Model | None, stackgan: keras.Model, vgan: keras.Model,
                 stackgan2: keras.Model | None = None):
        self.encoder, self.text_encoder, self.stackgan, self.vgan = encoder, text_encoder, stackgan, vgan
        self.stackgan2 = stackgan2

    @classmethod
    def from_pretrained(cls, run_dir: str | Path) -> "TextToVideo":
        """Loads a run directory trained by `python -m keras_t2v.train` (all stages through vgan)."""
        run = Run.load(run_dir)
        words = Path(run.config.words.vectors_path) if run.config.words.vectors_path else run.root / "words" / "vectors.bin"
        files = {"text encoder": run.root / "joint" / "text_encoder.keras", "StackGAN": run.root / "stackgan" / "stackgan.keras",
                 "VGAN": run.root / "vgan" / "vgan.keras"}
        if run.config.joint.gan_code == "attributes":
            files.pop("text encoder")
        missing = [f"{name} ({path})" for name, path in files.items() if not path.exists()]
        if missing:
            raise FileNotFoundError(f"{run_dir}: not fully trained, missing {', '.join(missing)}")
        stage2 = run.root / "stackgan2" / "stackgan2.keras"
        if stage2.exists():
            files["StackGAN Stage-II"] = stage2
        models = {name: keras.models.load_model(path, safe_mode=True) for name, path in files.items()}
        return cls(sentence_encoder(run.config.words, words), models.get("text encoder"), models["StackGAN"], models["VGAN"],
                   models.get("StackGAN Stage-II"))

    def codes(self, prompts: list[str]) -> np.ndarray:
        """(len(prompts), E) GAN codes; raises ValueError naming an unusable prompt."""
        sentences = np.stack([self.encoder.encode(p) for p in prompts])  # clear errors, truncation warnings
        if self.text_encoder is not None:
            return np.asarray(self.text_encoder.predict(sentences, verbose=0), np.float32)
        try:
            return one_hot([parse_caption(p, strict=False) for p in prompts])
        except CaptionError as err:
            raise ValueError(f"this model reads the five attributes from the prompt: {err}") from None

    @property
    def num_frames(self) -> int:
        return int(self.vgan.generator.outputs[0].shape[1])

    def __call__(self, prompt, num_frames: int | None = None, seed: int = 0, num_samples: int = 1) -> TextToVideoOutput:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ValueError("no prompt given")
        num_frames = num_frames or self.num_frames
        if not 1 <= num_frames <= self.num_frames:
            raise ValueError(f"num_frames must be between 1 and {self.num_frames} (what the video GAN generates), got {num_frames}")
        codes = np.repeat(self.codes(prompts), num_samples, axis=0)
        rng = np.random.default_rng(seed)
        self.stackgan.generator.get_layer("ca").seed_generator.state.assign([seed, 0])
        z_image = rng.normal(size=(len(codes), self.stackgan.z_dim)).astype("float32")
        first = keras.ops.convert_to_numpy(self.stackgan.generate(codes, z_image))
        z_video = rng.normal(size=(len(codes), self.vgan.z_dim)).astype("float32")
        video, mask, background = (keras.ops.convert_to_numpy(t) for t in self.vgan.generate(first, codes, z_video))
        return TextToVideoOutput(
            frames=to_uint8(video[:, :num_frames]),
            first_frames=to_uint8(first),
            stage2_frames=None if self.stackgan2 is None else to_uint8(keras.ops.convert_to_numpy(self.stackgan2.generate(first, codes))),
            masks=mask[:, :num_frames],
            backgrounds=to_uint8(background),
            prompts=[p for p in prompts for _ in range(num_samples)],
        )

"""TextToVideo: the trained stages chained for inference, in the style of diffusers pipelines.

    from keras_t2v.pipeline import TextToVideo
    from keras_t2v.export import export_to_gif
    pipe = TextToVideo.from_pretrained()              # the model shipped with the package
    pipe = TextToVideo.from_pretrained("runs/quick")  # or a run trained by python -m keras_t2v.train
    out = pipe("a big blue box bounces up and down on a gray background", seed=0)
    export_to_gif(out.frames[0], "box.gif", fps=8)
    pipe.save_pretrained("my_model")                  # only what inference needs, for from_pretrained

caption -> word vectors (25 x 300) -> joint text encoder -> StackGAN Stage-I frame -> VGAN video
(and, when the run has it, the Stage-II refinement of the Stage-I frame at 4x its size).
Inference needs the generators only (the averaged one when VGAN kept one), not the
discriminators or optimizer states. Every model file is loaded with Keras safe mode; word
vectors from Facebook .bin (no pickle).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import keras
import numpy as np

from keras_t2v.config import Config, load_config, save_config
from keras_t2v.data.attributes import one_hot
from keras_t2v.data.captions import CaptionError, parse_caption
from keras_t2v.export import to_uint8
from keras_t2v.models import stackgan_model  # noqa: F401  (registers the classes for loading)
from keras_t2v.models.stackgan import set_generation_noise
from keras_t2v.models.vgan_model import generator_inputs
from keras_t2v.precision import in_float32
from keras_t2v.runs import Run
from keras_t2v.text.word_vectors import compact_fasttext, sentence_encoder

PRETRAINED_DIR = Path(__file__).parent / "pretrained"  # the model shipped with the package
SAVED_FILES = {"text_encoder": "text_encoder.keras", "image_generator": "image_generator.keras",
               "video_generator": "video_generator.keras", "refiner": "refiner.keras"}


@dataclasses.dataclass
class TextToVideoOutput:
    frames: np.ndarray  # (B, T, H, W, 3) uint8, B = len(prompts) * num_samples, prompt-major
    first_frames: np.ndarray  # (B, H, W, 3) uint8, the StackGAN Stage-I frames the videos start from
    stage2_frames: np.ndarray | None  # (B, 4H, 4W, 3) uint8, Stage-II's refinement, when the run has Stage-II
    masks: np.ndarray  # (B, T, H, W, 1) float32 in [0, 1], VGAN's foreground mask
    backgrounds: np.ndarray  # (B, H, W, 3) uint8, VGAN's static background stream
    prompts: list[str]  # the prompt of each row


class TextToVideo:
    """The generators of a trained pipeline and what turns a prompt into their input.

    words: the fastText .bin the sentence encoder reads (25 x D per caption);
    text_encoder: sentence (25 * D) -> GAN code (E), or None when the GANs were trained on one-hot
        attribute codes (joint.gan_code = "attributes"), parsed from the prompt;
    image_generator: StackGAN Stage-I G, [code (B, E), z (B, Z)] -> (image (B, S, S, 3), mu, log_sigma);
    video_generator: VGAN G of `config.vgan.variant`, -> (video (B, T, S, S, 3), mask, background);
    refiner: StackGAN Stage-II G, [image, code] -> (image (B, 4S, 4S, 3), mu, log_sigma), or None.
    Every network computes in float32, whatever precision it was trained in.
    """

    def __init__(self, config: Config, words: str | Path, text_encoder: keras.Model | None, image_generator: keras.Model,
                 video_generator: keras.Model, refiner: keras.Model | None = None):
        self.config, self.words = config, Path(words)
        self.encoder = sentence_encoder(config.words, words)
        self.text_encoder = in_float32(text_encoder) if text_encoder is not None else None
        self.image_generator, self.video_generator, self.refiner = image_generator, video_generator, refiner

    @classmethod
    def from_pretrained(cls, path: str | Path | None = None) -> "TextToVideo":
        """Loads a directory written by `save_pretrained`, or a run directory trained by
        `python -m keras_t2v.train` (all stages through vgan); with no path, the model shipped in
        the package (keras_t2v/pretrained, see its MODEL_CARD.md)."""
        if path is None:
            if not (PRETRAINED_DIR / SAVED_FILES["video_generator"]).exists():
                raise FileNotFoundError(f"{PRETRAINED_DIR}: this installation ships no trained model; "
                                        "train one with python -m keras_t2v.train and pass its run directory")
            path = PRETRAINED_DIR
        path = Path(path)
        if (path / SAVED_FILES["video_generator"]).exists():
            return cls._from_saved(path)
        return cls._from_run(path)

    @classmethod
    def _from_saved(cls, path: Path) -> "TextToVideo":
        config = load_config(path / "config.yaml")
        load = lambda name: keras.models.load_model(path / SAVED_FILES[name], safe_mode=True, compile=False)  # noqa: E731
        words = next(path.glob("vectors.*"))  # vectors.bin.gz, or the user's vectors.vec / .txt
        return cls(config, words, load("text_encoder") if (path / SAVED_FILES["text_encoder"]).exists() else None,
                   load("image_generator"), load("video_generator"), load("refiner") if (path / SAVED_FILES["refiner"]).exists() else None)

    @classmethod
    def _from_run(cls, path: Path) -> "TextToVideo":
        run = Run.load(path)
        words = Path(run.config.words.vectors_path) if run.config.words.vectors_path else run.root / "words" / "vectors.bin"
        files = {"text encoder": run.root / "joint" / "text_encoder.keras", "StackGAN": run.root / "stackgan" / "stackgan.keras",
                 "VGAN": run.root / "vgan" / "vgan.keras"}
        if run.config.joint.gan_code == "attributes":
            files.pop("text encoder")
        missing = [f"{name} ({p})" for name, p in files.items() if not p.exists()]
        if missing:
            raise FileNotFoundError(f"{path}: not fully trained, missing {', '.join(missing)}")
        stage2 = run.root / "stackgan2" / "stackgan2.keras"
        if stage2.exists():
            files["StackGAN Stage-II"] = stage2
        models = {name: keras.models.load_model(p, safe_mode=True) for name, p in files.items()}
        for name in ("StackGAN", "StackGAN Stage-II"):
            if name in models:
                set_generation_noise(models[name].generator, run.config.stackgan.generation_noise)
        vgan = models["VGAN"]
        return cls(run.config, words, models.get("text encoder"), models["StackGAN"].generator,
                   vgan.ema_generator if vgan.ema_generator is not None else vgan.generator,
                   models["StackGAN Stage-II"].generator if "StackGAN Stage-II" in models else None)

    def save_pretrained(self, directory: str | Path) -> Path:
        """Writes what inference needs to `directory`: the resolved config, the word vectors and
        the generators (no discriminators, no optimizer states). Written beside the target and
        renamed into place, so an interrupted save leaves no half-written directory."""
        directory = Path(directory)
        tmp = directory.with_name(directory.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        save_config(self.config, tmp / "config.yaml")
        if self.words.suffix.lower() == ".bin":
            compact_fasttext(self.words, tmp / "vectors.bin.gz")
        else:  # already compacted (.bin.gz), or the user's .vec / .txt
            suffix = ".bin.gz" if self.words.name.lower().endswith(".bin.gz") else self.words.suffix
            shutil.copyfile(self.words, tmp / f"vectors{suffix}")
        for name in ("text_encoder", "image_generator", "video_generator", "refiner"):
            model = getattr(self, name)
            if model is not None:
                model.save(tmp / SAVED_FILES[name])
        if directory.exists():
            kept = [p.name for p in directory.iterdir() if p.name not in SAVED_FILES.values() and p.name != "config.yaml"
                    and not p.name.startswith("vectors.")]
            for name in kept:  # e.g. a model card written beside the model
                os.replace(directory / name, tmp / name)
            shutil.rmtree(directory)
        os.replace(tmp, directory)
        return directory

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
        return int(self.video_generator.outputs[0].shape[1])

    def __call__(self, prompt, num_frames: int | None = None, seed: int = 0, num_samples: int = 1) -> TextToVideoOutput:
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts:
            raise ValueError("no prompt given")
        num_frames = num_frames or self.num_frames
        if not 1 <= num_frames <= self.num_frames:
            raise ValueError(f"num_frames must be between 1 and {self.num_frames} (what the video GAN generates), got {num_frames}")
        codes = np.repeat(self.codes(prompts), num_samples, axis=0)
        rng = np.random.default_rng(seed)
        for generator in (self.image_generator, self.refiner):  # conditioning augmentation draws from the seed too
            if generator is not None:
                generator.get_layer("ca").reseed(seed)
        z_image = self.config.stackgan.generation_z_scale * rng.normal(size=(len(codes), self.image_generator.inputs[1].shape[-1]))
        z_image = z_image.astype("float32")
        first = self._numpy(self.image_generator([codes, z_image])[0])
        z_video = rng.normal(size=(len(codes), self.config.vgan.z_dim)).astype("float32")
        video, mask, background = (self._numpy(t) for t in self.video_generator(generator_inputs(self.config.vgan.variant, first, codes, z_video)))
        return TextToVideoOutput(
            frames=to_uint8(video[:, :num_frames]),
            first_frames=to_uint8(first),
            stage2_frames=None if self.refiner is None else to_uint8(self._numpy(self.refiner([first, codes])[0])),
            masks=mask[:, :num_frames],
            backgrounds=to_uint8(background),
            prompts=[p for p in prompts for _ in range(num_samples)],
        )

    @staticmethod
    def _numpy(tensor) -> np.ndarray:
        return keras.ops.convert_to_numpy(tensor).astype(np.float32)  # float32 whatever train.precision was

"""The shipped model with its Stage-I replaced by another run's, to score a Stage-I change in videos.

The shipped video generator reads the shipped text encoder's codes and moves the object of a
Stage-I frame (`vgan.sprite_source = "frame"`); half of its training frames were Stage-I's, half
real first frames (`vgan.stackgan_first_frames`). A Stage-I trained on the shipped codes (a run
whose `words.vectors_path` is the package's vectors and whose joint/text_encoder.keras is the
package's) can stand in for the shipped one, and the evaluation then says what the new Stage-I's
frames do to the videos with the video stage held fixed. Writes a save_pretrained directory:

    mkdir -p runs/s1/joint && cp keras_t2v/pretrained/text_encoder.keras runs/s1/joint/
    python -m keras_t2v.train --preset fixes --run-dir runs/s1 --stage stackgan --no-evaluate \\
        --set words.vectors_path=keras_t2v/pretrained/vectors.bin.gz [--set stackgan.X=Y]
    python experiments/swap_stage1.py runs/s1 runs/s1-videos
    python -m keras_t2v.evaluate --run-dir runs/s1-videos

Numbers are in the README ("Mode seeking in Stage-I").
"""

import sys

import keras_t2v  # noqa: F401, I001  (before TensorFlow loads: it sets TF's oneDNN default)
import keras

from keras_t2v.models.stackgan import set_generation_noise
from keras_t2v.pipeline import PRETRAINED_DIR, SAVED_FILES, TextToVideo
from keras_t2v.runs import Run


def main(run_dir: str, out_dir: str) -> None:
    run = Run.load(run_dir)
    shipped_encoder = (PRETRAINED_DIR / SAVED_FILES["text_encoder"]).read_bytes()
    if (run.root / "joint" / "text_encoder.keras").read_bytes() != shipped_encoder:
        raise SystemExit(f"{run_dir}: its text encoder is not the shipped one, so its Stage-I learnt other codes")
    pipe = TextToVideo.from_pretrained()
    pipe.image_generator = keras.models.load_model(run.root / "stackgan" / "stackgan.keras", safe_mode=True).generator
    set_generation_noise(pipe.image_generator, run.config.stackgan.generation_noise)
    print(f"{pipe.save_pretrained(out_dir)}: the shipped model with {run_dir}'s Stage-I")


if __name__ == "__main__":
    main(*sys.argv[1:])

"""The model shipped inside the package (keras_t2v/pretrained, written by python -m keras_t2v.ship)."""

import subprocess
import sys

import imageio.v2 as imageio
import numpy as np

from keras_t2v.pipeline import PRETRAINED_DIR, TextToVideo

PROMPT = "a big blue box bounces up and down on a gray background"


def test_shipped_model_fits_the_budget_and_has_its_card():
    files = list(PRETRAINED_DIR.iterdir())
    assert sum(p.stat().st_size for p in files) < 40e6
    card = (PRETRAINED_DIR / "MODEL_CARD.md").read_text()
    for section in ("## Data", "## Training", "## Metrics", "## Limitations", "## Files"):
        assert section in card


def test_from_pretrained_with_no_argument_loads_the_shipped_model():
    out = TextToVideo.from_pretrained()(PROMPT, seed=0, num_samples=2)
    assert out.frames.shape == (2, 32, 64, 64, 3) and out.frames.dtype == np.uint8
    assert not np.array_equal(out.frames[0], out.frames[1])  # the seed's two samples differ


def test_generate_needs_no_training(tmp_path):
    out = tmp_path / "a.gif"
    done = subprocess.run([sys.executable, "-m", "keras_t2v.generate", PROMPT, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(imageio.mimread(out)) == 32

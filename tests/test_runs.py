import pytest

from keras_t2v.config import get_preset
from keras_t2v.models.stackgan_training import train_stackgan
from keras_t2v.runs import Run


def test_a_stage_without_its_input_names_the_file_and_the_stage_to_train(tmp_path):
    run = Run.open(tmp_path / "run", get_preset("tiny"))
    with pytest.raises(FileNotFoundError, match=r"joint/text_encoder\.keras: missing, needed by the GAN stages; train the 'joint' stage first"):
        train_stackgan(run)
    (tmp_path / "run" / "vae").mkdir()
    (tmp_path / "run" / "vae" / "vae.keras").write_bytes(b"")
    assert run.stage_output("vae", "vae.keras", "x") == tmp_path / "run" / "vae" / "vae.keras"

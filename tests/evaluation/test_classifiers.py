import json

import numpy as np
import pytest

from keras_t2v.config import get_preset
from keras_t2v.evaluation.classifiers import Evaluator, train_evaluator


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    directory = tmp_path_factory.mktemp("evaluator")
    report = train_evaluator(get_preset("tiny").data, directory, train_count=1024, epochs=6, test_count=256)
    return directory, report


def test_evaluator_learns_the_attributes_of_real_clips(trained):
    _, report = trained
    for split in ("test", "test_unseen"):
        video, frame = report["accuracy"][split]["video"], report["accuracy"][split]["frame"]
        # 16x16 tiny clips: a small object is 3 pixels wide, so shape is left out of the check.
        assert video["color"] > 0.9 and video["background"] > 0.95 and video["size"] > 0.85
        assert video["motion"] > 0.6  # chance 0.17
        assert frame["background"] > 0.95


def test_saved_evaluator_reloads_and_predicts(trained):
    directory, report = trained
    assert json.loads((directory / "evaluator.json").read_text()) == report
    evaluator = Evaluator.load(directory)
    features, predicted = evaluator.predict_video(np.zeros((3, 8, 16, 16, 3), "float32"))
    assert features.shape == (3, 128) and predicted.shape == (3, 5)
    features, predicted = evaluator.predict_frame(np.zeros((3, 16, 16, 3), "float32"))
    assert features.shape == (3, 128) and predicted.shape == (3, 4)

import os
import subprocess
import sys

import pytest

PROBE = ("import os, keras_t2v, tensorflow; from tensorflow.python.util import _pywrap_util_port as port; "
         "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())")


def probe(**env) -> str:
    """What a fresh process that imports keras_t2v, then TensorFlow, sees: the variable and whether oneDNN is on."""
    clean = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"} | env
    return subprocess.run([sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True).stdout.strip()


def test_importing_the_package_turns_onednn_on_before_tensorflow_loads():
    assert probe() == "1 True"


@pytest.mark.parametrize("value,enabled", [("0", False), ("1", True)])
def test_a_value_the_user_set_wins(value, enabled):
    assert probe(TF_ENABLE_ONEDNN_OPTS=value) == f"{value} {enabled}"

import pytest

from keras_t2v.text.tokenizer import tokenize


def test_lower_case_and_punctuation():
    assert tokenize("A big, BLUE box -- bounces!") == ["a", "big", "blue", "box", "bounces"]
    assert tokenize("don't stop_now") == ["don't", "stop", "now"]
    assert tokenize("  ...  ") == []


def test_bytes_must_be_utf8():
    assert tokenize("café".encode()) == ["café"]
    with pytest.raises(ValueError, match="not valid UTF-8 \\(byte 3"):
        tokenize(b"caf\xe9 noir")

"""The one tokenizer of the project: lower case, punctuation stripped, split on whitespace.

Every stage that turns text into tokens (caption parsing, word vectors, the VAE's nearest-word
decoding) calls `tokenize`, so a caption always means the same words everywhere.
"""

import re

# A word is a run of letters/digits, optionally joined by inner apostrophes ("don't").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Returns the lower-cased words of `text`, punctuation and underscores dropped.

    >>> tokenize("The tiny green disk is sliding to the right, over stripes.")
    ['the', 'tiny', 'green', 'disk', 'is', 'sliding', 'to', 'the', 'right', 'over', 'stripes']
    """
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(
                f"text is not valid UTF-8 (byte {err.start}: {text[err.start:err.start + 1]!r})"
            ) from None
    return _WORD.findall(text.lower())

"""Which captions does the text code misread? The frame attributes an MLP probe reads from it, by
where the caption puts its background phrase and by word.

An MLP probe (`keras_t2v.text.probe.fit_probe`) trained on the text codes of every training
caption reads shape, colour, size and background from the code of each of the three captions of
every test and test_unseen clip. Prints per split each attribute's error rate, all four, the error
rates of captions that open with their background phrase ("in the dark a ...") against the rest,
and the words whose captions are misread most often (words in at least 30 captions).

    python experiments/text_code_errors.py runs/kf

About 30 seconds on a 2-core CPU. Numbers are in the README ("A text tower that reads a word
wherever it stands").
"""

import collections
import sys

import numpy as np

from keras_t2v.data.attributes import FRAME_ATTRIBUTES, FRAME_COLUMNS
from keras_t2v.data.records import caption_pool
from keras_t2v.models.stackgan_training import text_codes
from keras_t2v.runs import Run
from keras_t2v.text.probe import fit_probe

BACKGROUND_OPENINGS = ("on", "in", "over")  # "on a ... background", "in the dark", "over stripes"


def main(run_dir: str, worst: int = 6) -> None:
    run = Run.load(run_dir)
    codes, _ = text_codes(run, "train")
    probe = fit_probe(codes, np.repeat(caption_pool(run.config.data, "train").attributes, 3, axis=0))
    for split in ("test", "test_unseen"):
        codes, captions = text_codes(run, split)
        truth = np.repeat(caption_pool(run.config.data, split).attributes, 3, axis=0)[:, list(FRAME_COLUMNS)]
        read = probe.predict(codes, verbose=0)
        wrong = np.stack([read[name].argmax(1) for name in FRAME_ATTRIBUTES], axis=1) != truth
        words = [c.rstrip(".").split() for c in captions]
        first = np.array([w[0] in BACKGROUND_OPENINGS for w in words])
        print(f"{run_dir} {split}, {len(words)} captions: error rate "
              + ", ".join(f"{a} {wrong[:, j].mean():.3f}" for j, a in enumerate(FRAME_ATTRIBUTES))
              + f"; all four right {1 - wrong.any(axis=1).mean():.3f}")
        for name, rows in (("background first", first), ("background later", ~first)):
            print(f"  {name} ({rows.sum()}): " + ", ".join(f"{a} {wrong[rows, j].mean():.3f}" for j, a in enumerate(FRAME_ATTRIBUTES)))
        for j, attribute in enumerate(FRAME_ATTRIBUTES):
            errors, counts = collections.Counter(), collections.Counter()
            for caption_words, w in zip(words, wrong[:, j]):
                for word in set(caption_words):
                    counts[word] += 1
                    errors[word] += int(w)
            rates = sorted(((errors[k] / n, k, n) for k, n in counts.items() if n >= 30), reverse=True)[:worst]
            print(f"  {attribute} misread most with: " + ", ".join(f"'{k}' {r:.3f} ({n})" for r, k, n in rates))


if __name__ == "__main__":
    main(sys.argv[1])

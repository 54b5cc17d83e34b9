"""Where does Stage-I lose the caption: in the text code, or in the generator?

For the first caption of clips 0..n-1 of train, test and test_unseen, Stage-I's frames as the
Stage-I evaluation draws them (`stage1_frames`, the run's generation_noise) are judged by the frame
evaluator. Beside them, an MLP probe (`keras_t2v.text.probe.fit_probe`) trained on the text codes of
every training caption reads the same four attributes from each caption's code: what the code
carries. Prints per split the generator's accuracy, the probe's, the generator's where the probe
is right (the generator's own share of the error), and what shape was drawn for each shape asked.
On train captions the generator is asked what it was trained on: a gap to test is generalisation,
no gap is underfitting.

    python experiments/stage1_failures.py runs/kd

About 1.5 minutes on a 2-core CPU once the evaluator is trained. Numbers are in the README
("Trained on the mean code").
"""

import sys

import numpy as np

from keras_t2v.data.attributes import FRAME_ATTRIBUTES, FRAME_COLUMNS, SHAPES
from keras_t2v.data.records import caption_pool
from keras_t2v.evaluate import _load_evaluator, accuracy_table, stage1_frames
from keras_t2v.models.stackgan_training import load_stage1, text_codes
from keras_t2v.text.probe import fit_probe


def main(run_dir: str, n: int = 512) -> None:
    run, evaluator, _, _ = _load_evaluator(run_dir, None, None)
    model = load_stage1(run, "the failure probe")
    codes, _ = text_codes(run, "train")
    probe = fit_probe(codes, np.repeat(caption_pool(run.config.data, "train").attributes, 3, axis=0))
    print(f"{run_dir}, N = {n} per split\n| split | judged | " + " | ".join(FRAME_ATTRIBUTES) + " | all four |")
    print("|---" * (len(FRAME_ATTRIBUTES) + 3) + "|")
    shapes_drawn = []
    for split in ("train", "test", "test_unseen"):
        codes, _ = text_codes(run, split)
        asked = caption_pool(run.config.data, split).attributes[:n][:, list(FRAME_COLUMNS)]
        model.generator.get_layer("ca").reseed(0)
        drawn = evaluator.predict_frame(stage1_frames(model, codes, n))[1]
        read = probe.predict(codes[0 : 3 * n : 3], verbose=0)
        read = np.stack([read[name].argmax(1) for name in FRAME_ATTRIBUTES], axis=1)
        code_right = (read == asked).all(axis=1)
        rows = {"Stage-I frames": (drawn, asked), "text code (probe)": (read, asked),
                f"Stage-I where the code is right ({code_right.sum()})": (drawn[code_right], asked[code_right])}
        for name, (predicted, truth) in rows.items():
            table = accuracy_table(predicted, truth, FRAME_ATTRIBUTES)
            print(f"| {split} | {name} | " + " | ".join(f"{table[a]:.3f}" for a in (*FRAME_ATTRIBUTES, "all")) + " |")
        drawn_as = {s: np.bincount(drawn[asked[:, 0] == i, 0], minlength=len(SHAPES)).tolist() for i, s in enumerate(SHAPES)}
        shapes_drawn.append(f"{split}: shapes drawn ({', '.join(SHAPES)}) per shape asked {drawn_as}")
    print("\n".join(shapes_drawn))


if __name__ == "__main__":
    main(sys.argv[1])

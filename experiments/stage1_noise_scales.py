"""How much of Stage-I's error is its noise? Stage-I frames scored with the noise scaled at generation.

For the Stage-I evaluation's captions and noise (the first caption of clips 0..n-1 of test and
test_unseen, z from seed 0, the CA stream restarted at seed 0), the frame evaluator scores Stage-I
frames drawn with the conditioning augmentation's noise scaled by 1, 0.5 and 0
(`stackgan.generation_noise`; 1 is StackGAN's sampling), then, at the mean code, with z scaled by
1, 0.5 and 0. Also prints the CA's mean sigma against the spread of mu across captions.

    python experiments/stage1_noise_scales.py runs/ja

About 2 minutes on a 2-core CPU once the evaluator is trained. Numbers are in the README ("The mean code").
"""

import sys

import numpy as np

from keras_t2v.data.attributes import FRAME_COLUMNS
from keras_t2v.data.records import caption_pool
from keras_t2v.evaluate import _load_evaluator, accuracy_table, stage1_frames
from keras_t2v.evaluation.classifiers import FRAME_ATTRIBUTES
from keras_t2v.models.stackgan_training import load_stage1, text_codes

SCALES = (1.0, 0.5, 0.0)


def main(run_dir: str, n: int = 512) -> None:
    run, evaluator, _, _ = _load_evaluator(run_dir, None, None)
    model = load_stage1(run, "the noise probe")
    ca = model.generator.get_layer("ca")
    rows = []
    for split in ("test", "test_unseen"):
        codes, _ = text_codes(run, split)
        truth = caption_pool(run.config.data, split).attributes[:n][:, list(FRAME_COLUMNS)]
        _, mu, log_sigma = (np.asarray(t) for t in ca(codes[0 : 3 * n : 3], sample=False))
        print(f"{run_dir} {split}: CA sigma {np.exp(log_sigma).mean():.2f} on average; mu's standard deviation across captions "
              f"{mu.std(axis=0).mean():.2f} (mean over dimensions)")
        settings = [(noise, 1.0) for noise in SCALES] + [(0.0, z) for z in SCALES[1:]]
        for noise, z_scale in settings:
            ca.generation_noise = noise
            ca.reseed(0)
            frames = stage1_frames(model, codes, n, z_scale)
            table = accuracy_table(evaluator.predict_frame(frames)[1], truth, FRAME_ATTRIBUTES)
            rows.append(f"| {split} | {noise} | {z_scale} | " + " | ".join(f"{table[a]:.3f}" for a in FRAME_ATTRIBUTES) + f" | {table['all']:.3f} |")
    print(f"\nN = {n} per split\n| split | CA noise | z scale | " + " | ".join(FRAME_ATTRIBUTES) + " | all four |")
    print("|---" * (len(FRAME_ATTRIBUTES) + 4) + "|")
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1])

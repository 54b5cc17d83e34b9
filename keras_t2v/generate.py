"""Generates videos from captions with the model shipped in the package, or a trained run.

    python -m keras_t2v.generate "a small red circle moves left on a dark background" --out a.gif
    python -m keras_t2v.generate "a small red circle moves left on a dark background" --run-dir runs/quick
    python -m keras_t2v.generate "a big blue box bounces up and down on a gray background" \\
        "the tiny green disk is sliding to the right over stripes" --num-samples 2 --mp4 --strip --out out/demo.gif

With one prompt and one sample the video is written to --out; otherwise --out is a name pattern
and each video gets `_<prompt>_<sample>` appended. --strip also writes a PNG frame strip per video;
--intermediates the stages' outputs beside it: <name>.stage1.png (the StackGAN Stage-I frame),
<name>.stage2.png (Stage-II, when the run has it), <name>.mask.png (VGAN's mask over time) and
<name>.background.png (VGAN's static background).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prompts", nargs="+", help="one or more captions")
    parser.add_argument("--run-dir", default=None, help="a run trained by python -m keras_t2v.train, or a directory written by "
                        "TextToVideo.save_pretrained; default: the model shipped in the package (keras_t2v/pretrained)")
    parser.add_argument("--out", default="out.gif", help="GIF path (or pattern, see above)")
    parser.add_argument("--mp4", action="store_true", help="also write an MP4 beside each GIF")
    parser.add_argument("--strip", action="store_true", help="also write a PNG frame strip beside each GIF")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-samples", type=int, default=1)
    parser.add_argument("--num-frames", type=int, default=None)
    parser.add_argument("--fps", type=float, default=8.0)
    parser.add_argument("--intermediates", action="store_true", help="also write the Stage-I/II frames, mask and background")
    args = parser.parse_args(argv)

    from keras_t2v.export import export_to_gif, export_to_video, frame_strip, save_image
    from keras_t2v.pipeline import TextToVideo

    try:
        pipe = TextToVideo.from_pretrained(args.run_dir)
        output = pipe(args.prompts, num_frames=args.num_frames, seed=args.seed, num_samples=args.num_samples)
    except (ValueError, FileNotFoundError) as err:
        parser.exit(2, f"error: {err}\n")
    out = Path(args.out)
    single = len(output.frames) == 1
    for i, (frames, prompt) in enumerate(zip(output.frames, output.prompts)):
        p, k = divmod(i, args.num_samples)
        path = out if single else out.with_name(f"{out.stem}_{p}_{k}{out.suffix or '.gif'}")
        export_to_gif(frames, path, fps=args.fps)
        written = [path]
        if args.mp4:
            written.append(export_to_video(frames, path.with_suffix(".mp4"), fps=args.fps))
        if args.strip:
            written.append(save_image(frame_strip(frames, 8), path.with_suffix(".png")))
        if args.intermediates:
            parts = {"stage1": output.first_frames[i], "mask": frame_strip(output.masks[i].repeat(3, -1) * 2 - 1, 8),
                     "background": output.backgrounds[i]}
            if output.stage2_frames is not None:
                parts["stage2"] = output.stage2_frames[i]
            written += [save_image(image, path.with_suffix(f".{name}.png")) for name, image in parts.items()]
        print(f"{prompt!r}: {', '.join(str(w) for w in written)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

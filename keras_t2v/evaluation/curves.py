"""Loss and metric curves of a run, read back from its TensorBoard event files, as one PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def read_curves(log_dir: str | Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{"<split>/<metric>": (epochs, values)} of the per-epoch scalars Keras logged under `log_dir`
    (one sub-folder per split: train, validation)."""
    curves = {}
    for split_dir in sorted(p for p in Path(log_dir).iterdir() if p.is_dir()):
        events = EventAccumulator(str(split_dir), size_guidance={"tensors": 0})
        events.Reload()
        for tag in events.Tags().get("tensors", []):
            if not tag.startswith("epoch_") or tag == "epoch_learning_rate":
                continue
            points = events.Tensors(tag)
            values = np.array([float(tf.make_ndarray(p.tensor_proto)) for p in points])
            if values.ndim == 1 and values.size:
                curves[f"{split_dir.name}/{tag.removeprefix('epoch_')}"] = (np.array([p.step + 1 for p in points]), values)
    return curves


def _group(metric: str) -> int | None:
    """The panel of a metric: 0 losses, 1 discriminator outputs / distances / accuracies, 2 evaluation."""
    if metric.startswith("eval_"):
        return None if metric == "eval_kid_self" else 2
    if metric.endswith("loss") or metric in ("kl", "mask_l1", "recon_l1"):
        return 0
    if metric.startswith("d_") or "accuracy" in metric or "distance" in metric:
        return 1
    return None


def plot_curves(logs_root: str | Path, path: str | Path, stages=("vae", "joint", "stackgan", "stackgan2", "vgan")) -> Path | None:
    """One row of panels per trained stage (losses; probabilities and accuracies; eval_* numbers),
    x = epoch. Returns the PNG path, or None when no stage has logs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    found = {s: read_curves(Path(logs_root) / s) for s in stages if (Path(logs_root) / s).is_dir()}
    found = {s: c for s, c in found.items() if c}
    if not found:
        return None
    groups = ("losses", "D outputs, distances, accuracies", "evaluation during training")
    fig, axes = plt.subplots(len(found), len(groups), figsize=(5 * len(groups), 3 * len(found)), squeeze=False)
    for row, (stage, curves) in enumerate(found.items()):
        for col, title in enumerate(groups):
            ax = axes[row, col]
            for key, (x, y) in curves.items():
                if _group(key.split("/", 1)[1]) == col:
                    ax.plot(x, y, marker="o", markersize=2, label=key)
            ax.set_title(f"{stage}: {title}", fontsize=9)
            ax.set_xlabel("epoch", fontsize=8)
            if ax.lines:
                ax.legend(fontsize=6)
            else:
                ax.axis("off")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path

"""Does a text code keep the attributes apart? Distances between codes of caption pairs.

For N random attribute combinations, a caption of the combination is compared with a caption of
a combination that differs in exactly one attribute, and with one that differs in all five.
Each pair is drawn with the same random stream, so template and synonym slots line up as far as
possible and the distance mostly reflects the attribute words. A useful code puts one-attribute
pairs closer than five-attribute pairs, and no attribute (motion in particular) at distance 0.
"""

from __future__ import annotations

import numpy as np

from keras_t2v.data.attributes import ATTRIBUTE_NAMES, NUM_VALUES
from keras_t2v.data.captions import make_caption


def caption_pairs(count: int, seed: int = 0):
    """(base captions, one-attribute captions, changed attribute per pair, five-attribute captions)."""
    rng = np.random.default_rng(seed)
    base, one, changed, five = [], [], [], []
    for _ in range(count):
        a = [int(rng.integers(n)) for n in NUM_VALUES]
        attribute = int(rng.integers(len(NUM_VALUES)))
        b1 = list(a)
        b1[attribute] = (a[attribute] + int(rng.integers(1, NUM_VALUES[attribute]))) % NUM_VALUES[attribute]
        b5 = [(v + int(rng.integers(1, n))) % n for v, n in zip(a, NUM_VALUES)]
        stream = int(rng.integers(2**31))
        base.append(make_caption(a, np.random.default_rng(stream)))
        one.append(make_caption(b1, np.random.default_rng(stream)))
        five.append(make_caption(b5, np.random.default_rng(stream)))
        changed.append(attribute)
    return base, one, np.array(changed), five


def attribute_distances(encode, count: int = 600, seed: int = 0) -> dict:
    """Mean Euclidean distances between codes: `encode(list of captions) -> (N, d) array`."""
    base, one, changed, five = caption_pairs(count, seed)
    za, z1, z5 = (np.asarray(encode(c), np.float64) for c in (base, one, five))
    d1 = np.linalg.norm(za - z1, axis=1)
    d5 = np.linalg.norm(za - z5, axis=1)
    return {
        "pairs": count,
        "one_attribute": float(d1.mean()),
        "all_five": float(d5.mean()),
        "ratio_one_to_five": float(d1.mean() / d5.mean()),
        "one_closer_than_five": float(np.mean(d1 < d5)),  # share of pairs
        "by_attribute": {name: float(d1[changed == i].mean()) for i, name in enumerate(ATTRIBUTE_NAMES)},
    }


def fit_probe(features: np.ndarray, attributes: np.ndarray, epochs: int = 5, seed: int = 0):
    """A small MLP (Dense 256 relu, one softmax head per attribute) trained to read the five
    attributes (N, 5) from `features` (N, d): a keras.Model whose outputs are {attribute: logits}."""
    import keras

    keras.utils.set_random_seed(seed)
    inputs = keras.Input(features.shape[1:])
    hidden = keras.layers.Dense(256, activation="relu")(inputs)
    heads = {name: keras.layers.Dense(n, name=name)(hidden) for name, n in zip(ATTRIBUTE_NAMES, NUM_VALUES)}
    model = keras.Model(inputs, heads)
    model.compile("adam", loss={n: keras.losses.SparseCategoricalCrossentropy(from_logits=True) for n in ATTRIBUTE_NAMES},
                  metrics={n: ["accuracy"] for n in ATTRIBUTE_NAMES})
    model.fit(features, {n: attributes[:, i] for i, n in enumerate(ATTRIBUTE_NAMES)}, epochs=epochs, batch_size=128, verbose=0)
    return model


def probe_accuracy(features: np.ndarray, attributes: np.ndarray, epochs: int = 5, seed: int = 0) -> dict:
    """Held-out accuracy of `fit_probe` reading the five attributes from `features` (N, d);
    attributes (N, 5). 80 % train, 20 % test.

    A code that keeps an attribute lets the probe beat chance on it by far; one that lost it
    leaves the probe at chance (1/3 shape, 1/6 colour, 1/2 size, 1/6 motion, 1/3 background).
    """
    order = np.random.default_rng(seed).permutation(len(features))
    split = int(0.8 * len(features))
    train, test = order[:split], order[split:]
    model = fit_probe(features[train], attributes[train], epochs, seed)
    scores = model.evaluate(features[test], {n: attributes[test, i] for i, n in enumerate(ATTRIBUTE_NAMES)},
                            verbose=0, return_dict=True)
    return {n: float(scores[f"{n}_accuracy"]) for n in ATTRIBUTE_NAMES}


def main(argv=None) -> int:
    """python -m keras_t2v.text.probe --run-dir runs/quick: the probes of a trained VAE, as JSON."""
    import argparse
    import json

    import keras

    from keras_t2v.data.records import caption_pool
    from keras_t2v.runs import Run
    from keras_t2v.text.training import load_encoder, sentence_matrix

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--run-dir", required=True)
    args = parser.parse_args(argv)
    run = Run.load(args.run_dir)
    vae = keras.models.load_model(run.root / "vae" / "vae.keras", safe_mode=True)
    encoder, _ = load_encoder(run)
    sentences, _ = sentence_matrix(run, "train")
    pool = caption_pool(run.config.data, "train")
    if pool.attributes is None:
        parser.error(f"{run.root}: the probes need Captioned Moving Shapes attributes; this run trains on imported clips")
    attributes = np.repeat(pool.attributes, 3, axis=0)
    encode = lambda c: keras.ops.convert_to_numpy(vae.encode(encoder.encode_many(c)[0]))  # noqa: E731
    print(json.dumps({
        "latent_distances": attribute_distances(encode, seed=run.config.train.seed),
        "probe_latent": probe_accuracy(keras.ops.convert_to_numpy(vae.encode(sentences)), attributes),
        "probe_input": probe_accuracy(sentences, attributes),
    }, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

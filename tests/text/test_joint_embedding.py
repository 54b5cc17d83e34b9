import keras
import numpy as np
import pytest

from keras_t2v.config import get_preset
from keras_t2v.data.attributes import NUM_VALUES
from keras_t2v.data.records import generate_records
from keras_t2v.text.joint_embedding import (
    JointEmbedding,
    contrastive_loss,
    euclidean_distance,
    infonce_loss,
    recall_at_k,
)
from keras_t2v.text.pairs import (
    ClipBatchSampler,
    PairSampler,
    clip_frame_indices,
    collect_key_frames,
    key_frame_indices,
    to_float,
)

TINY = dict(input_dim=40, vae_intermediate=16, latent_dim=6, hidden_dim=16, embed_dim=8, dropout=0.5,
            frame_tower="cnn", image_size=16, cnn_filters=4)


def np_(x):
    return keras.ops.convert_to_numpy(x)


def test_distance_and_loss_match_hand_computation():
    a = np.array([[0.0, 0.0], [1.0, 1.0], [0.2, 0.0], [3.0, 0.0]], "float32")
    b = np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0], [0.0, 4.0]], "float32")
    y = np.array([1, 1, 0, 0], "float32")
    d = np_(euclidean_distance(a, b))
    np.testing.assert_allclose(d, [np.sqrt(1e-7), 1.0, 0.2, 5.0], rtol=1e-5)
    # y d^2 + (1 - y) max(1 - d, 0)^2 per pair, then the mean.
    expected = np.mean([1e-7, 1.0, 0.8**2, 0.0])
    assert float(np_(contrastive_loss(y, d, margin=1.0))) == pytest.approx(expected, rel=1e-5)


def test_infonce_loss_matches_hand_computation():
    d = np.array([[0.5, 1.0, 2.0], [1.0, 0.2, 0.1], [3.0, 0.0, 1.0]], "float32")
    keys = np.array([7, 8, 7])  # clips 0 and 2 show one combination: neither is the other's negative

    def cross_entropy(logits, right, left_out):
        logits = np.delete(logits, left_out)
        return np.log(np.exp(logits).sum()) - logits[right - sum(i < right for i in left_out)]

    logits = -d**2
    rows = [cross_entropy(logits[0], 0, [2]), cross_entropy(logits[1], 1, []), cross_entropy(logits[2], 2, [0])]
    columns = [cross_entropy(logits[:, 0], 0, [2]), cross_entropy(logits[:, 1], 1, []), cross_entropy(logits[:, 2], 2, [0])]
    expected = 0.5 * (np.mean(rows) + np.mean(columns))
    assert float(np_(infonce_loss(d, keys))) == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("option", [{"loss": "triplet"}, {"text_input": "chars"}])
def test_unknown_loss_or_text_input_is_named(option):
    with pytest.raises(ValueError, match=repr(next(iter(option.values())))):
        JointEmbedding(**TINY | option)


def test_words_text_tower_reads_the_sentence_and_round_trips(tmp_path):
    model = JointEmbedding(**TINY | {"text_input": "words", "loss": "infonce"})
    assert "vae_encoder" not in [layer.name for layer in model.text_tower.layers]
    assert model.text_tower.get_layer("text_hidden").input.shape == (None, 40)
    model.compile(optimizer="adam")
    x = (np.random.default_rng(0).normal(size=(4, 40)).astype("float32"), np.zeros((4, 16, 16, 3), "float32"))
    model.save(tmp_path / "joint.keras")
    loaded = keras.models.load_model(tmp_path / "joint.keras", safe_mode=True)
    assert loaded.get_config()["loss"] == "infonce" and loaded.get_config()["text_input"] == "words"
    np.testing.assert_array_equal(np_(loaded(x)), np_(model(x)))


def test_tower_shapes_and_frozen_vae():
    model = JointEmbedding(**TINY)
    assert model.text_tower.output_shape == (None, 8)
    assert model.frame_tower.output_shape == (None, 8)
    assert not model.vae_encoder.trainable
    frozen = {id(v) for v in model.vae_encoder.weights}
    assert frozen and not frozen & {id(v) for v in model.trainable_weights}
    d = model((np.zeros((3, 40), "float32"), np.zeros((3, 16, 16, 3), "float32")))
    assert d.shape == (3,)


@pytest.mark.parametrize("size", [16, 64])
def test_pooled_cnn_tower_has_one_feature_per_channel_at_any_size(size):
    """frame_tower="cnn_pool": conv + BN blocks, then a global max pool over where the object is."""
    model = JointEmbedding(**TINY | {"frame_tower": "cnn_pool", "image_size": size})
    backbone = model.frame_tower.get_layer("cnn_pool_backbone")
    assert backbone.output_shape == (None, 4 * 4)  # cnn_filters x 4, whatever the frame size
    assert model.frame_tower.output_shape == (None, 8)
    d = model((np.zeros((3, 40), "float32"), np.zeros((3, size, size, 3), "float32")), training=True)
    assert d.shape == (3,)


def _tiny_pairs(seed=0, count=64, hard=False):
    data = get_preset("tiny").data
    frames, keys, attributes = collect_key_frames(generate_records(data.seed, "train", count, 16, 8))
    # Sentences: a one-hot code of the attributes, repeated for the 3 captions (a clean text side).
    onehot = np.concatenate([np.eye(n)[attributes[:, i]] for i, n in enumerate(NUM_VALUES)], axis=1)
    sentences = np.repeat(np.pad(onehot, ((0, 0), (0, 40 - onehot.shape[1]))), 3, axis=0).astype("float32")
    return PairSampler(sentences, frames, keys, attributes, groups=4, hard_negatives=hard, seed=seed)


def test_pair_sampling_follows_the_original():
    sampler = _tiny_pairs()
    (sentences, frames), labels = sampler[0]
    assert sentences.shape == (24, 40) and frames.shape == (24, 16, 16, 3)
    np.testing.assert_array_equal(labels, np.tile([1, 1, 1, 0, 0, 0], 4))
    assert key_frame_indices(32) == [0, 31, 22]
    for g, anchor in enumerate(sampler._order[:4]):
        assert any(np.array_equal(sentences[6 * g], sampler.sentences[3 * anchor + j]) for j in range(3))
        for p in range(3):  # positives: the anchor clip's first, last and 10th-from-last frames
            np.testing.assert_array_equal(frames[6 * g + p], to_float(sampler.frames[anchor, p]))
    rng = np.random.default_rng(0)
    for anchor in range(64):  # negatives show another attribute combination than their caption
        assert sampler.keys[sampler._negative(rng, anchor)] != sampler.keys[anchor]


def test_hard_negatives_differ_in_one_attribute():
    sampler = _tiny_pairs(hard=True, count=64)
    rng = np.random.default_rng(0)
    with_neighbours = [a for a in range(64) if len(sampler.one_off[a])]
    assert len(with_neighbours) > 20
    for anchor in with_neighbours:
        other = sampler._negative(rng, anchor)
        assert (sampler.attributes[other] != sampler.attributes[anchor]).sum() == 1


def test_training_separates_positive_and_negative_distances():
    keras.utils.set_random_seed(0)
    sampler = _tiny_pairs(count=64)
    model = JointEmbedding(**{**TINY, "dropout": 0.0})
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    first = model.evaluate(sampler, verbose=0, return_dict=True)
    model.fit(sampler, epochs=25, verbose=0)
    last = model.evaluate(sampler, verbose=0, return_dict=True)
    assert last["loss"] < first["loss"]
    assert last["negative_distance"] - last["positive_distance"] > 0.3
    assert last["pair_accuracy"] > 0.8


def _tiny_clip_batches(count=64, batch_size=16):
    pairs = _tiny_pairs(count=count)
    return ClipBatchSampler(pairs.sentences, pairs.frames, pairs.keys, batch_size, seed=0)


def test_clip_batches_pair_each_caption_with_a_key_frame_of_its_clip():
    sampler = _tiny_clip_batches()
    assert len(sampler) == 4
    seen = []
    for index in range(len(sampler)):
        (sentences, frames), keys = sampler[index]
        assert sentences.shape == (16, 40) and frames.shape == (16, 16, 16, 3) and keys.shape == (16,)
        clips = [int(np.flatnonzero(sampler.keys == k)[0]) if (sampler.keys == k).sum() == 1 else None for k in keys]
        for i, clip in enumerate(clips):
            if clip is not None:  # a clip whose key is unique: its caption and frame are its own
                assert any(np.array_equal(sentences[i], sampler.sentences[3 * clip + j]) for j in range(3))
                assert any(np.array_equal(frames[i], to_float(sampler.frames[clip, p])) for p in range(3))
        seen.extend(keys)
    assert sorted(seen) == sorted(sampler.keys)  # every clip once per epoch


def test_conv_text_tower_reads_a_word_the_same_in_every_slot(tmp_path):
    """text_input="words_conv": (B, 80) sentences are 10 words of 8; moving the one word from slot 3
    to slot 6 leaves the code unchanged (convolution + max over slots; slots 0-1 and 8-9 also see the
    zero padding), where the Dense tower's code moves."""
    model = JointEmbedding(**TINY | {"input_dim": 80, "text_input": "words_conv", "loss": "infonce", "word_dim": 8})
    assert model.text_tower.get_layer("text_words").output.shape == (None, 10, 8)
    word = np.random.default_rng(0).normal(size=8).astype("float32")
    early, late = np.zeros((1, 80), "float32"), np.zeros((1, 80), "float32")
    early[0, 24:32], late[0, 48:56] = word, word
    np.testing.assert_allclose(np_(model.text_tower(early)), np_(model.text_tower(late)), atol=1e-6)
    dense = JointEmbedding(**TINY | {"input_dim": 80, "text_input": "words", "loss": "infonce"})
    assert not np.allclose(np_(dense.text_tower(early)), np_(dense.text_tower(late)))
    model.save(tmp_path / "joint.keras")
    loaded = keras.models.load_model(tmp_path / "joint.keras", safe_mode=True)
    assert loaded.get_config()["text_input"] == "words_conv" and loaded.get_config()["word_dim"] == 8
    np.testing.assert_array_equal(np_(loaded.text_tower(late)), np_(model.text_tower(late)))
    with pytest.raises(ValueError, match="no whole number of 7-d words"):
        JointEmbedding(**TINY | {"text_input": "words_conv", "word_dim": 7})


def test_infonce_training_ranks_each_caption_nearest_its_frame():
    keras.utils.set_random_seed(0)
    sampler = _tiny_clip_batches()
    model = JointEmbedding(**{**TINY, "dropout": 0.0, "loss": "infonce", "text_input": "words"})
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    first = model.evaluate(sampler, verbose=0, return_dict=True)
    model.fit(sampler, epochs=25, verbose=0)
    last = model.evaluate(sampler, verbose=0, return_dict=True)
    assert last["loss"] < first["loss"]
    assert last["negative_distance"] > last["positive_distance"]
    assert last["batch_top1"] > first["batch_top1"] + 0.3


def test_attribute_head_adds_its_loss_and_stays_out_of_the_text_encoder(tmp_path):
    """joint.attribute_weight: the loss is InfoNCE + weight x the attribute cross-entropy of a linear
    head on the text code; training lowers that term; the text tower saved for the GANs has no head."""
    from keras_t2v.models.losses import attribute_cross_entropy
    from keras_t2v.text.joint_embedding import pairwise_distances

    keras.utils.set_random_seed(0)
    pairs = _tiny_pairs()
    sampler = ClipBatchSampler(pairs.sentences, pairs.frames, pairs.keys, 16, seed=0, attributes=pairs.attributes)
    (sentences, frames), (keys, attributes) = sampler[0]
    np.testing.assert_array_equal(attributes, pairs.attributes[sampler._order[:16]])
    model = JointEmbedding(**{**TINY, "dropout": 0.0, "loss": "infonce", "text_input": "words", "attribute_weight": 0.5,
                           "activation": "linear"})
    model.compile(optimizer=keras.optimizers.Adam(3e-3))
    text, frame = model.text_tower(sentences), model.frame_tower(frames)
    infonce = infonce_loss(pairwise_distances(text, frame), keys)
    head = attribute_cross_entropy(model.attribute_head(text), attributes, NUM_VALUES)
    logs = model.test_on_batch((sentences, frames), (keys, attributes), return_dict=True)
    assert logs["loss"] == pytest.approx(float(np_(infonce)) + 0.5 * float(np_(head)), rel=1e-4)
    assert logs["attribute_loss"] == pytest.approx(float(np_(head)), rel=1e-4)
    first = model.evaluate(sampler, verbose=0, return_dict=True)["attribute_loss"]
    model.fit(sampler, epochs=20, verbose=0)
    assert model.evaluate(sampler, verbose=0, return_dict=True)["attribute_loss"] < 0.9 * first
    model.save(tmp_path / "joint.keras")
    assert keras.models.load_model(tmp_path / "joint.keras", safe_mode=True).attribute_weight == 0.5
    assert "text_attributes" not in [layer.name for layer in model.text_tower.layers]
    with pytest.raises(ValueError, match="needs loss"):
        JointEmbedding(**{**TINY, "attribute_weight": 1.0})


def test_clip_frames_stack_evenly_spaced_frames_for_the_frame_tower(tmp_path):
    """joint.clip_frames = K: the tower reads K frames spread over the clip, frame k in channels
    3k..3k+2, so the frame code can see how the object moves."""
    data = get_preset("tiny").data
    records = generate_records(data.seed, "train", 8, 16, 8)
    videos = {int(r["index"]): r["video"].numpy() for r in records}
    stacked = collect_key_frames(records, clip_frames=4)
    assert clip_frame_indices(8, 4) == [0, 2, 5, 7] and clip_frame_indices(32, 2) == [0, 31]
    assert stacked.frames.shape == (8, 1, 16, 16, 12)
    for i in range(8):
        for k, t in enumerate([0, 2, 5, 7]):
            np.testing.assert_array_equal(stacked.frames[i, 0, ..., 3 * k : 3 * k + 3], videos[i][t])

    model = JointEmbedding(**TINY | {"text_input": "words", "loss": "infonce", "clip_frames": 4})
    assert model.frame_tower.input_shape == (None, 16, 16, 12)
    sampler = ClipBatchSampler(np.zeros((24, 40), "float32"), stacked.frames, stacked.keys, 4, seed=0)
    (sentences, frames), keys = sampler[0]
    assert frames.shape == (4, 16, 16, 12)
    model.compile(optimizer="adam")
    model.fit(sampler, epochs=1, verbose=0)
    model.save(tmp_path / "joint.keras")
    loaded = keras.models.load_model(tmp_path / "joint.keras", safe_mode=True)
    np.testing.assert_array_equal(np_(loaded((sentences, frames))), np_(model((sentences, frames))))
    with pytest.raises(ValueError, match="one RGB frame"):
        JointEmbedding(**TINY | {"frame_tower": "xception", "clip_frames": 4})
    with pytest.raises(ValueError, match="clip_frames must be 1"):
        JointEmbedding(**TINY | {"clip_frames": 0})


def test_save_load_round_trip(tmp_path):
    model = JointEmbedding(**TINY)
    model.compile(optimizer="rmsprop")
    x = (np.random.default_rng(0).normal(size=(4, 40)).astype("float32"), np.zeros((4, 16, 16, 3), "float32"))
    model.save(tmp_path / "joint.keras")
    loaded = keras.models.load_model(tmp_path / "joint.keras", safe_mode=True)
    np.testing.assert_array_equal(np_(loaded(x)), np_(model(x)))
    assert not loaded.vae_encoder.trainable
    model.text_tower.save(tmp_path / "text.keras")
    text = keras.models.load_model(tmp_path / "text.keras", safe_mode=True)
    np.testing.assert_array_equal(text.predict(x[0], verbose=0), model.text_tower.predict(x[0], verbose=0))


def test_recall_at_k():
    codes = np.eye(100, dtype="float32")
    perfect = recall_at_k(codes, codes)
    assert perfect["caption_to_frame_R@1"] == perfect["frame_to_caption_R@1"] == 1.0
    shuffled = recall_at_k(codes, codes[np.roll(np.arange(100), 1)])
    assert shuffled["caption_to_frame_R@1"] == 0.0
    collapsed = recall_at_k(np.zeros((100, 4)), codes[:, :4])  # every caption code equal: all ties
    assert collapsed["frame_to_caption_R@10"] == 0.0
    with pytest.raises(ValueError, match="at least 100"):
        recall_at_k(codes[:50], codes[:50])


def test_paper_xception_variant_builds_with_reference_parameter_counts():
    model = JointEmbedding(input_dim=7500, vae_intermediate=1200, latent_dim=500, hidden_dim=500, embed_dim=512,
                           dropout=0.5, frame_tower="xception", image_size=64)
    xception = model.frame_tower.get_layer("xception_backbone").get_layer("xception")
    assert xception.count_params() == 22_910_480  # keras.applications.Xception, include_top=True
    assert model.frame_tower.count_params() == 22_910_480 + (1000 * 500 + 500) + (500 * 512 + 512)  # 23,667,492
    vae_encoder = 7500 * 1200 + 1200 + 2 * (1200 * 500 + 500)  # 10,202,200, frozen
    head = (500 * 500 + 500) + (500 * 512 + 512)  # 507,012
    assert model.text_tower.count_params() == vae_encoder + head
    assert sum(np.prod(w.shape) for w in model.text_tower.trainable_weights) == head

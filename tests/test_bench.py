import json

import keras
import pytest

from keras_t2v.bench import forward_flops, main


def test_forward_flops_by_hand():
    def flops(inputs, layer):
        x = keras.Input(inputs)
        return forward_flops(keras.Model(x, layer(x)))

    assert flops((3,), keras.layers.Dense(4)) == 2 * 3 * 4
    assert flops((8, 8, 2), keras.layers.Conv2D(5, 3, padding="same")) == 2 * (8 * 8 * 5) * (3 * 3 * 2)
    assert flops((4, 8, 8, 2), keras.layers.Conv3D(5, 2, strides=2)) == 2 * (2 * 4 * 4 * 5) * (2 * 2 * 2 * 2)
    assert flops((3, 3, 5), keras.layers.Conv2DTranspose(4, 2, strides=2)) == 2 * (3 * 3 * 5) * (2 * 2 * 4)
    assert flops((6, 6, 3), keras.layers.SeparableConv2D(7, 3, padding="same")) == 2 * 36 * 27 + 2 * 36 * 7 * 3
    x = keras.Input((3,))
    inner = keras.Model(x, keras.layers.Dense(4)(x))
    assert forward_flops(keras.Model(x, keras.layers.Dense(2)(inner(x)))) == 24 + 16  # nested models count


@pytest.mark.slow
def test_bench_writes_json_and_table(tmp_path):
    assert main(["--presets", "tiny", "--stages", "joint,vgan_text", "--steps", "1", "--batch", "vgan=2", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "bench.json").read_text())
    assert results["matmul_gflop_per_s"] > 0
    rows = {r["stage"]: r for r in results["stages"]}
    assert set(rows) == {"joint", "vgan_text"} and rows["vgan_text"]["batch"] == 2 and rows["joint"]["batch"] == 30
    assert all(r["samples_per_s"] > 0 and r["gflop_per_step"] > 0 and r["peak_rss_mb"] > 100 for r in rows.values())
    assert "| tiny | vgan_text | float32 | off | 2 |" in (tmp_path / "bench.md").read_text()

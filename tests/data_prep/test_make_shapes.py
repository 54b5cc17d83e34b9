"""The make_shapes command: shards + manifest, resume after damage or a kill, preview."""

import json
import os
import signal
import subprocess
import sys
import time

import imageio.v2 as imageio
import pytest

from data_prep.make_shapes import main
from keras_t2v.data.records import MANIFEST, read_records

TINY = ["--preset", "tiny", "--workers", "1"]


def shard_hashes(out):
    manifest = json.loads((out / MANIFEST).read_text())
    return {e["file"]: e["sha256"] for split in manifest["splits"].values() for e in split["shards"]}, manifest


def test_writes_all_splits_with_manifest(tmp_path):
    out = tmp_path / "d"
    assert main(["--out", str(out), *TINY, "--train", "40", "--shard-size", "16"]) == 0
    hashes, manifest = shard_hashes(out)
    assert manifest["complete"] and manifest["params"]["version"]
    assert manifest["params"]["counts"] == {"train": 40, "val": 16, "test": 16, "test_unseen": 16}
    assert [e["count"] for e in manifest["splits"]["train"]["shards"]] == [16, 16, 8]
    assert sorted(p.name for p in out.glob("*.tfrecord.gz")) == sorted(hashes)
    assert read_records(out, "train").count == 40


def test_resume_keeps_good_shards_and_rewrites_damaged_ones(tmp_path):
    out = tmp_path / "d"
    main(["--out", str(out), *TINY])
    before, _ = shard_hashes(out)
    shards = sorted(out.glob("train-*.tfrecord.gz"))
    shards[0].unlink()
    shards[1].write_bytes(shards[1].read_bytes()[:50])  # a partial shard under its final name
    (out / "train-00002-of-00004.tfrecord.gz.tmp").write_bytes(b"partial")
    kept = shards[3].stat().st_mtime_ns
    main(["--out", str(out), *TINY])
    after, manifest = shard_hashes(out)
    assert after == before
    assert shards[3].stat().st_mtime_ns == kept  # an intact shard is not rewritten
    assert not list(out.glob("*.tmp"))
    assert sum(len(s["shards"]) for s in manifest["splits"].values()) == len(before)


def test_killed_run_resumes_to_the_same_bytes(tmp_path):
    args = ["--preset", "tiny", "--train", "480", "--shard-size", "16", "--workers", "1"]
    reference = tmp_path / "reference"
    main(["--out", str(reference), *args])
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "data_prep.make_shapes", "--out", str(out), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.getcwd()})
    deadline = time.time() + 120
    while time.time() < deadline:
        manifest = out / MANIFEST
        if manifest.exists() and len(json.loads(manifest.read_text())["splits"].get("train", {}).get("shards", [])) >= 3:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial, manifest = shard_hashes(out)
    assert not manifest["complete"] and 3 <= len(partial) < 30
    main(["--out", str(out), *args])
    assert shard_hashes(out)[0] == shard_hashes(reference)[0]


def test_other_parameters_refuse_to_mix(tmp_path):
    out = tmp_path / "d"
    main(["--out", str(out), *TINY])
    with pytest.raises(SystemExit, match="other parameters.*size"):
        main(["--out", str(out), *TINY, "--size", "32"])


def test_parallel_workers_match_serial(tmp_path):
    main(["--out", str(tmp_path / "serial"), *TINY])
    main(["--out", str(tmp_path / "parallel"), "--preset", "tiny", "--workers", "2"])
    assert shard_hashes(tmp_path / "serial")[0] == shard_hashes(tmp_path / "parallel")[0]


def test_preview(tmp_path):
    out = tmp_path / "d"
    main(["--out", str(out), *TINY, "--preview"])
    sheet = imageio.imread(out / "preview" / "contact_sheet.png")
    assert sheet.ndim == 3 and sheet.shape[0] > 8 * 64
    gif = imageio.mimread(out / "preview" / "clip_0.gif")
    assert len(gif) == 8 and gif[0].shape[:2] == (16, 16)
    lines = (out / "preview" / "captions.txt").read_text().splitlines()
    assert len(lines) == 4 and lines[0].startswith("clip_0.gif\t")


def test_bad_override_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "d"), "--set", "data.image_sise=32"])
    assert "did you mean 'image_size'" in capsys.readouterr().err

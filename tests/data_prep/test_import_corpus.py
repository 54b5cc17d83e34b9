"""python -m data_prep.import_corpus on real video files written with OpenCV, in every format."""

import json

import cv2
import numpy as np
import pytest

from data_prep.import_corpus import main
from keras_t2v.config import DataConfig
from keras_t2v.data.records import MANIFEST, read_records, split_records
from keras_t2v.pipeline import TextToVideo
from keras_t2v.train import main as train
from tests.video_files import make_mpii, moving_square_frames, write_video

SMALL = ["--size", "16", "--frames", "8", "--workers", "1"]


def manifest_of(out):
    return json.loads((out / MANIFEST).read_text())


def shard_hashes(out):
    return {e["file"]: e["sha256"] for split in manifest_of(out)["splits"].values() for e in split["shards"]}


def records_of(out, split):
    return list(read_records(out, split).dataset.as_numpy_iterator())


@pytest.fixture(scope="module")
def mpii(tmp_path_factory):
    root = tmp_path_factory.mktemp("mpii")
    return root, make_mpii(root)


def test_mpii_import_skips_bad_items_and_reports_each(mpii, tmp_path):
    root, expected = mpii
    out = tmp_path / "out"
    assert main(["--format", "mpii", "--source", str(root), "--out", str(out), *SMALL, "--shard-size", "3"]) == 0
    manifest = manifest_of(out)
    assert manifest["complete"]
    assert {s: v["count"] for s, v in manifest["splits"].items()} == {"train": 4, "val": 4}
    report = json.loads((out / "import_report.json").read_text())
    reasons = {r["item"]: r["reason"] for r in report["skipped_items"]}
    assert report["skipped"] == len(reasons) == 6
    for clip in expected["broken"]:  # zero-byte and random-bytes videos
        assert any(clip in item and ("cannot open" in r or "no frames" in r) for item, r in reasons.items())
    annotations = root / "annotations-someone.csv"
    for line, reason in ((12, "no video file"), (13, "malformed line"), (14, "empty caption"), (15, "not valid UTF-8")):
        assert any(item.startswith(f"{annotations}:{line}") and reason in r for item, r in reasons.items())
    text = (out / "import_report.txt").read_text()
    assert text.startswith("imported: {'train': 4, 'val': 4} (total 8)\nskipped: 6\n")
    assert all(item in text for item in reasons)

    train = sorted(records_of(out, "train"), key=lambda r: r["index"])
    assert [r["index"] for r in train] == [0, 1, 2, 3]
    assert train[0]["video"].shape == (8, 16, 16, 3) and train[0]["video"].dtype == np.uint8
    assert [c.decode() for c in train[0]["captions"]] == [
        "SOMEONE walks to the door number 0.", 'SOMEONE looks "around".', "SOMEONE walks to the door number 0."]
    assert (train[0]["attributes"] == -1).all() and len({int(r["key"]) for r in train}) == 4
    with pytest.raises(ValueError, match="set data.image_size=16 data.num_frames=8"):
        split_records(DataConfig(source="shards", path=str(out)), "train")  # 64x64x32 by default


def test_parallel_import_matches_serial_and_resume_keeps_finished_shards(mpii, tmp_path):
    root, _ = mpii
    args = ["--format", "mpii", "--source", str(root), "--size", "16", "--frames", "8", "--shard-size", "2"]
    main(["--out", str(tmp_path / "serial"), *args, "--workers", "1"])
    out = tmp_path / "parallel"
    main(["--out", str(out), *args, "--workers", "2"])
    reference = shard_hashes(tmp_path / "serial")
    assert shard_hashes(out) == reference

    # An interrupted import: one shard never written, one half written, a leftover .tmp.
    shards = sorted(out.glob("*.tfrecord.gz"))
    shards[0].unlink()
    shards[1].write_bytes(shards[1].read_bytes()[:20])
    (out / f"{shards[2].name}.tmp").write_bytes(b"partial")
    kept = {p: p.stat().st_mtime_ns for p in shards[2:]}
    main(["--out", str(out), *args, "--workers", "1"])
    assert shard_hashes(out) == reference
    assert all(p.stat().st_mtime_ns == t for p, t in kept.items())  # finished shards are not rewritten
    assert not list(out.glob("*.tmp"))
    assert json.loads((out / "import_report.json").read_text())["skipped"] == 6

    with pytest.raises(SystemExit, match="other parameters.*size"):
        main(["--out", str(out), *[a if a != "16" else "32" for a in args]])


def test_frames_lsmdc_and_stacked_formats(mpii, tmp_path):
    root, expected = mpii
    # Frame folders: the MPII clips of movie A as <movie>/<clip>/0001.jpg ...
    frames_root = tmp_path / "jpg"
    movie = expected["movies"][0]
    for k, clip in enumerate(c for c in expected["good"] if c.startswith(movie)):
        folder = frames_root / movie / clip
        folder.mkdir(parents=True)
        for t, frame in enumerate(moving_square_frames(50, 40, 6 + k)):
            cv2.imwrite(str(folder / f"{t + 1:04d}.jpg"), frame)
    out = tmp_path / "frames"
    main(["--format", "frames", "--source", str(frames_root), "--annotations", str(root / "annotations-someone.csv"),
          "--split-file", str(root / "dataSplit.txt"), "--out", str(out), *SMALL])
    assert manifest_of(out)["splits"]["train"]["count"] == 4

    # LSMDC: six columns, the clip id repeated, the split from the file name.
    lsmdc = tmp_path / "LSMDC16_annos_val.csv"
    rows = [f"{c}\t00.00.01.000\t00.00.02.000\t00.00.00.500\t00.00.02.500\tSOMEONE {'smiles' if k % 2 else 'frowns'}."
            for k, c in enumerate(expected["good"])]
    lsmdc.write_text("\n".join(rows + rows[:2]) + "\n")
    out = tmp_path / "lsmdc"
    main(["--format", "lsmdc", "--source", str(root), "--annotations", str(lsmdc), "--out", str(out), *SMALL,
          "--keywords", "smiles"])
    assert {s: v["count"] for s, v in manifest_of(out)["splits"].items()} == {"val": 4}
    assert all(r["captions"][0] == b"SOMEONE smiles." for r in records_of(out, "val"))

    # VGAN stacked JPEGs with a list file; one clip too short for --min-frames.
    stacked = tmp_path / "stacked"
    stacked.mkdir()
    lines = []
    for k, count in enumerate([12, 12, 3]):
        image = np.concatenate([cv2.resize(f, (32, 32)) for f in moving_square_frames(32, 32, count)])
        cv2.imwrite(str(stacked / f"clip{k}.jpg"), image)
        lines.append(f"clip{k}.jpg")
    (stacked / "list.txt").write_text("\n".join(lines) + "\n")
    out = tmp_path / "stacked_out"
    main(["--format", "stacked", "--source", str(stacked / "list.txt"), "--caption", "a square slides right",
          "--out", str(out), *SMALL, "--min-frames", "8", "--stride", "1"])
    report = json.loads((out / "import_report.json").read_text())
    assert sum(report["imported"].values()) == 2
    assert [r["reason"] for r in report["skipped_items"]] == ["too short: 3 frames < 8"]


def make_csv_collection(root, count=40):
    """`count` short clips of a coloured square moving right or left, captioned, with a split column."""
    colors = {"red": (0, 0, 255), "green": (0, 255, 0), "blue": (255, 0, 0), "yellow": (0, 255, 255)}
    rows = ["video,caption,split"]
    for k in range(count):
        name, bgr = list(colors.items())[k % 4]
        path = write_video(root / "clips" / f"{k:03d}.avi", "MJPG", (40, 32), 25.0, 10, color=bgr)
        if k % 8 >= 4:  # moving left: reverse the frames
            capture = cv2.VideoCapture(str(path))
            frames = [capture.read()[1] for _ in range(10)]
            capture.release()
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (40, 32))
            for frame in frames[::-1]:
                writer.write(frame)
            writer.release()
        direction = "left" if k % 8 >= 4 else "right"
        rows.append(f"clips/{k:03d}.avi,a {name} square moves to the {direction},{'val' if k >= count - 8 else 'train'}")
    (root / "clips.csv").write_text("\n".join(rows) + "\n")
    return root / "clips.csv"


@pytest.mark.slow
def test_every_stage_trains_on_an_imported_csv_collection(tmp_path):
    out = tmp_path / "data"
    main(["--format", "csv", "--source", str(make_csv_collection(tmp_path)), "--out", str(out), *SMALL])
    assert {s: v["count"] for s, v in manifest_of(out)["splits"].items()} == {"train": 32, "val": 8}
    run_dir = tmp_path / "run"
    assert train(["--preset", "tiny", "--run-dir", str(run_dir), "--set", "data.source=shards", "--set", f"data.path={out}",
                  "--set", "stackgan.epochs=1", "--set", "vgan.epochs=1"]) == 0  # evaluation is skipped for imported data
    assert "probe_latent" not in json.loads((run_dir / "vae" / "report.json").read_text())
    frames = TextToVideo.from_pretrained(run_dir)("a green square moves to the left", seed=0).frames
    assert frames.shape == (1, 8, 16, 16, 3)


def test_settings_that_need_labels_are_refused_before_any_stage_trains(tmp_path, capsys):
    out = tmp_path / "data"
    main(["--format", "csv", "--source", str(make_csv_collection(tmp_path)), "--out", str(out), *SMALL])
    run_dir = tmp_path / "run"
    with pytest.raises(SystemExit):
        train(["--preset", "tiny", "--run-dir", str(run_dir), "--set", "data.source=shards", "--set", f"data.path={out}",
               "--set", "joint.attribute_weight=1.0", "--set", "stackgan.attribute_weight=0.5"])
    error = capsys.readouterr().err
    assert f"joint.attribute_weight=1.0, stackgan.attribute_weight=0.5 learn from attribute labels, which the imported clips at {out}" in error
    assert "--preset baseline" in error and not run_dir.exists()

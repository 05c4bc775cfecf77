"""`deeplearn vision detect train | evaluate | predict` end to end on a user's VOC-style folder (made here)."""

import json

from deeplearn.cli import main
from deeplearn.engine.rundir import RunDir

from .shapes import write_voc_folder

TINY = ["--widths", "8", "16", "16", "32", "--features", "16"]


def test_train_evaluate_predict_on_a_voc_folder(tmp_path, capsys):
    data = tmp_path / "shapes"
    write_voc_folder(data, 10)
    run = tmp_path / "run"
    assert main(["vision", "detect", "train", "--data", f"voc:{data}", "--model", "centernet", *TINY,
                 "--steps", "8", "--batch-size", "2", "--eval-every", "4", "--threads", "1", "--progress", "none",
                 "--out", str(run)]) == 0
    r = RunDir(run)
    assert r.config["system"] == "vision" and r.config["meta"]["classes"] == ["blue", "red"]
    assert r.summary["status"] == "completed" and "test_map50" in r.summary["test"]
    assert (run / "pr_test.png").stat().st_size > 0

    assert main(["vision", "detect", "evaluate", str(run), "--split", "val"]) == 0
    result = json.loads((run / f"evaluate_voc-{str(data).replace('/', '-')}_val.json").read_text())
    assert 0 <= result["map50"] <= 1 and result["images"] == 1

    out = tmp_path / "pred"
    assert main(["vision", "detect", "predict", str(run), str(data / "im0.png"), str(data / "im1.png"),
                 "-o", str(out), "--score", "0"]) == 0
    for stem in ("im0", "im1"):
        assert (out / f"{stem}.png").stat().st_size > 0
        rows = json.loads((out / f"{stem}.json").read_text())["detections"]
        assert rows and {"box", "score", "label"} <= set(rows[0])
        assert all(row["label"] in ("blue", "red") for row in rows)

    # resume continues to a longer budget; a changed model option is refused with one line
    assert main(["vision", "detect", "train", "--resume", str(run), "--steps", "10", "--progress", "none"]) == 0
    assert RunDir(run).summary["steps"] == 10
    capsys.readouterr()
    assert main(["vision", "detect", "train", "--resume", str(run), "--features", "32"]) == 2
    assert "cannot change in a resumed run" in capsys.readouterr().err


def test_bad_input_is_one_line_naming_it(tmp_path, capsys):
    assert main(["vision", "detect", "train", "--data", f"voc:{tmp_path / 'nowhere'}", "--out",
                 str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "Traceback" not in err
    assert main(["vision", "detect", "predict", str(tmp_path / "r"), "x.png", "-o", str(tmp_path)]) == 2


def test_hog_svm_runs_beside_the_engine_and_loads_like_the_deep_ones(tmp_path, capsys):
    data = tmp_path / "shapes"
    write_voc_folder(data, 10)
    run = tmp_path / "hog"
    assert main(["vision", "detect", "train", "--data", f"voc:{data}", "--model", "hog-svm", "--progress", "none",
                 "--out", str(run)]) == 0
    r = RunDir(run)
    assert r.config["task"]["model"] == "hog-svm" and (run / "hog-svm.npz").exists()
    assert 0 <= r.summary["test"]["test_map50"] <= 1
    assert main(["vision", "detect", "evaluate", str(run)]) == 0
    assert main(["vision", "detect", "predict", str(run), str(data / "im3.png"), "-o", str(tmp_path / "p"),
                 "--score", "0"]) == 0
    assert (tmp_path / "p" / "im3.json").exists()
    capsys.readouterr()
    assert main(["vision", "detect", "train", "--resume", str(run)]) == 2
    assert "fitted in one go" in capsys.readouterr().err

"""`deeplearn spn ...` end to end on the real NLTCS data (skipped without the shared data)."""

import json

import pytest

from deeplearn.cli import main


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.slow
def test_train_evaluate_sample_query(shared_data, tmp_path, capsys):
    d = str(shared_data)
    out = tmp_path / "hclt"
    rc, text, _ = run(capsys, "spn", "train", "--data", "nltcs", "--data-dir", d, "--structure", "hclt", "--hidden",
                      "4", "--epochs", "8", "--out", str(out))
    assert rc == 0 and "test log-likelihood" in text
    res = json.loads((out / "spn.json").read_text())
    assert res["test_ll"] > -6.9  # better than the independent model (-9.234) by far
    rc, text, _ = run(capsys, "spn", "evaluate", str(out), "--data-dir", d)
    assert rc == 0 and f"{res['test_ll']:.4f}" in text
    rc, text, _ = run(capsys, "spn", "sample", str(out), "-n", "5", "--evidence", "x0=1")
    rows = text.split()
    assert rc == 0 and len(rows) == 5 and all(len(r) == 16 and r[0] == "1" for r in rows)
    rc, text, _ = run(capsys, "spn", "query", str(out), "--evidence", "x3=1,x7=0", "--marginal", "x5", "--mpe")
    assert rc == 0
    p0, p1 = [float(t.split(": ")[1]) for t in text.splitlines()[1].split(":", 1)[1].split("  ") if t.strip()]
    assert p0 + p1 == pytest.approx(1.0, abs=1e-5)
    rc, _, err = run(capsys, "spn", "query", str(out), "--evidence", "x3=2")
    assert rc == 2 and "evidence item 'x3=2'" in err
    rc, _, err = run(capsys, "spn", "train", "--data", "msnbc", "--data-dir", d, "--out", str(tmp_path / "m"))
    assert rc == 2 and "partial copy" in err
    rc, _, err = run(capsys, "spn", "evaluate", str(tmp_path / "none"))
    assert rc == 2 and "holds no trained circuit" in err


@pytest.mark.slow
def test_user_structure_and_sgd(shared_data, tmp_path, capsys):
    d = str(shared_data)
    # A mixture of two naive-Bayes components over the 16 NLTCS variables, as a JSON description.
    nodes, comps = [], []
    for _ in range(2):
        first = len(nodes)
        nodes += [{"leaf": v} for v in range(16)]
        nodes.append({"product": list(range(first, first + 16))})
        comps.append(len(nodes) - 1)
    nodes.append({"sum": comps})
    f = tmp_path / "mix.json"
    f.write_text(json.dumps({"num_vars": 16, "nodes": nodes}))
    rc, text, _ = run(capsys, "spn", "train", "--data", "nltcs", "--data-dir", d, "--structure", "json",
                      "--structure-file", str(f), "--epochs", "4", "--out", str(tmp_path / "mix"))
    assert rc == 0
    mix = json.loads((tmp_path / "mix" / "spn.json").read_text())["test_ll"]
    assert -9.234 < mix < -6.0  # a 2-component mixture beats independence
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"num_vars": 16, "nodes": [{"leaf": 0}, {"leaf": 0}, {"product": [0, 1]}]}))
    rc, _, err = run(capsys, "spn", "train", "--data", "nltcs", "--data-dir", d, "--structure", "json",
                     "--structure-file", str(bad), "--out", str(tmp_path / "bad"))
    assert rc == 2 and "not decomposable" in err
    rc, text, _ = run(capsys, "spn", "train", "--data", "nltcs", "--data-dir", d, "--structure", "rat", "--depth",
                      "2", "--repetitions", "2", "--sums", "4", "--inputs", "4", "--learner", "sgd", "--epochs", "1",
                      "--progress", "none", "--out", str(tmp_path / "sgd"))
    assert rc == 0
    summary = json.loads((tmp_path / "sgd" / "summary.json").read_text())
    res = json.loads((tmp_path / "sgd" / "spn.json").read_text())
    assert res["test_ll"] == pytest.approx(summary["test"]["test_ll"], abs=1e-3)
    assert res["test_ll"] > -9.0


def test_digits_completion(tmp_path, capsys):
    """Train a small categorical (17-level) RAT-SPN on the embedded digits, complete the left halves."""
    out = tmp_path / "digits"
    rc, _, _ = run(capsys, "spn", "train", "--data", "digits", "--structure", "rat", "--depth", "2",
                   "--repetitions", "2", "--sums", "3", "--inputs", "3", "--epochs", "3", "--out", str(out))
    assert rc == 0
    png = tmp_path / "grid.png"
    rc, text, _ = run(capsys, "spn", "complete", str(out), "--half", "left", "-o", str(png), "--show", "3")
    assert rc == 0 and png.stat().st_size > 1000
    mse = json.loads((out / "completion_left.json").read_text())["mse"]
    assert 0 < mse["SPN conditional mean"] < 0.2 and 0 < mse["nearest neighbour"] < 0.2
    rc, _, err = run(capsys, "spn", "train", "--data", "digits", "--structure", "hclt", "--out", str(tmp_path / "h"))
    assert rc == 2 and "built for binary data" in err
    rc, _, err = run(capsys, "spn", "complete", str(out), "--data", "mnist", "-o", str(png))
    assert rc == 2 and "trained on digits" in err
    rc, _, err = run(capsys, "spn", "complete", str(out), "--limit", "0", "-o", str(png))
    assert rc == 2 and "--limit 0" in err


def test_mnist_data_and_its_errors(tmp_path, shared_data_root):
    import numpy as np

    from deeplearn.paths import DataError
    from deeplearn.spn.data import load_mnist_splits

    with pytest.raises(DataError, match="no MNIST under"):
        load_mnist_splits(tmp_path)
    (tmp_path / "images").mkdir()
    np.savez(tmp_path / "images" / "mnist.npz", x_train=np.zeros((5, 8, 8), np.uint8),
             x_test=np.zeros((5, 8, 8), np.uint8))
    with pytest.raises(DataError, match="expected 28x28"):
        load_mnist_splits(tmp_path)
    if shared_data_root is None or not (shared_data_root / "images" / "mnist.npz").exists():
        pytest.skip("needs ../shared/data/images/mnist.npz for the real-data half")
    d = load_mnist_splits(shared_data_root)
    assert {k: v.shape for k, v in d.items()} == {"train": (50000, 784), "valid": (10000, 784),
                                                  "test": (10000, 784)}
    assert set(np.unique(d["test"])) == {0, 1} and 0.1 < d["train"].mean() < 0.16  # ink is about 13 % of pixels

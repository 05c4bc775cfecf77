"""The fast feed-forward stylizer (`deeplearn vision style-train | stylize`): trained through the engine, it
resumes bit for bit; it keeps any image size; its losses fall."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from PIL import Image

from deeplearn.cli import main
from deeplearn.engine.rundir import RunDir
from deeplearn.vision.style.fast import TransformNet

pytestmark = pytest.mark.skipif(not importlib.util.find_spec("skimage"),
                                reason="needs scikit-image's photos: pip install -e \".[imagenet]\"")


def style_file(tmp_path):
    g = np.random.default_rng(0)
    a = (np.stack([np.sin(np.arange(48) / 2.0)] * 48) * 0.4 + 0.5)[..., None] * np.array([1.0, 0.5, 0.2])
    path = tmp_path / "painting.png"
    Image.fromarray((np.clip(a + 0.05 * g.standard_normal(a.shape), 0, 1) * 255).astype(np.uint8)).save(path)
    return str(path)


def args(style, out, steps):
    return ["vision", "style-train", style, "--out", str(out), "--steps", str(steps), "--crops", "8", "--val-crops",
            "2", "--crop-size", "32", "--width", "4", "--residual-blocks", "1", "--net", "random-multiscale",
            "--batch-size", "2", "--eval-every", "3", "--log-every", "1", "--progress", "none", "--threads", "1"]


def test_the_net_keeps_any_size():
    net = TransformNet(4, 1)
    assert net(torch.rand(1, 3, 37, 50)).shape == (1, 3, 37, 50)


class Crash(Exception):
    pass


def test_training_resumes_exactly_and_stylize_applies_it(tmp_path, capsys):
    from deeplearn.cli import build_parser
    from deeplearn.engine.command import run_training
    from deeplearn.vision.style.commands import SPEC

    style = style_file(tmp_path)
    assert main(args(style, tmp_path / "straight", 8)) == 0

    def crash(step):
        if step == 5:  # after the checkpoint of step 3 (an evaluation), before the one of step 6
            raise Crash()

    with pytest.raises(Crash):
        run_training(SPEC, build_parser("vision").parse_args(args(style, tmp_path / "cut", 8)), on_step_end=crash)
    assert main(["vision", "style-train", "--resume", str(tmp_path / "cut"), "--progress", "none"]) == 0
    a = RunDir(tmp_path / "straight").model_state("last")
    b = RunDir(tmp_path / "cut").model_state("last")
    assert all(torch.equal(a[k], b[k]) for k in a)  # bit for bit

    def losses(d):
        rows = [json.loads(r) for r in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: (r.get("train_loss"), r.get("val_loss")) for r in rows}

    assert losses("straight") == losses("cut")
    capsys.readouterr()
    out = tmp_path / "s.png"
    assert main(["vision", "stylize", str(tmp_path / "straight"), style, "--size", "40", "-o", str(out)]) == 0
    assert Image.open(out).size == (40, 40) and "ms (one forward pass)" in capsys.readouterr().out
    assert main(["vision", "stylize", str(tmp_path / "nope"), style]) == 2

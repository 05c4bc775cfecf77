"""The sample digit shipped for the README's `predict` example (issue 13, problem 11)."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from deeplearn.vision.commands import load_image

DIGIT = Path(__file__).parent / "data" / "digit.png"


def test_the_sample_digit_is_a_28x28_grey_image_the_predict_path_reads():
    with Image.open(DIGIT) as im:
        assert im.size == (28, 28) and im.mode == "L"
    x = load_image(DIGIT, (1, 28, 28), [0.0], [1.0])
    assert x.shape == (1, 28, 28) and 0.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert DIGIT.stat().st_size < 1000


def test_the_sample_digit_is_the_first_mnist_test_image(shared_data):
    with np.load(shared_data / "images" / "mnist.npz") as f:
        x, y = f["x_test"][0], int(f["y_test"][0])
    assert y == 7 and np.array_equal(np.asarray(Image.open(DIGIT)), x)
    assert torch.equal(load_image(DIGIT, (1, 28, 28), [0.0], [1.0])[0], torch.from_numpy(x).float() / 255)

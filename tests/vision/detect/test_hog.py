import numpy as np
import pytest
import torch

from deeplearn.paths import DataError
from deeplearn.vision.detect.data import load_detection
from deeplearn.vision.detect.hog import HogSvmDetector
from deeplearn.vision.detect.hog_features import hog_blocks, score_map, window_features
from deeplearn.vision.detect.metrics import evaluate_detections


@pytest.mark.parametrize("shape", [(37, 45, 3), (64, 48), (80, 120, 3)])
def test_hog_blocks_equal_scikit_image(shape):
    from skimage.feature import hog

    image = np.random.default_rng(0).random(shape)
    ref = hog(image, orientations=9, pixels_per_cell=(4, 4), cells_per_block=(2, 2), block_norm="L2-Hys",
              feature_vector=False, channel_axis=-1 if len(shape) == 3 else None)
    assert np.allclose(hog_blocks(image, cell=4), ref, atol=1e-12)


def test_score_map_is_the_dot_product_of_each_window():
    rng = np.random.default_rng(1)
    blocks = rng.random((12, 15, 2, 2, 9))
    w = rng.standard_normal((5, 3, 2, 2, 9))
    s = score_map(blocks, w, 0.5)
    assert s.shape == (8, 13)
    rows, cols = np.array([0, 7, 3]), np.array([0, 12, 5])
    expected = window_features(blocks, rows, cols, 5, 3) @ w.ravel() + 0.5
    assert np.allclose(s[rows, cols], expected, atol=1e-4)


@pytest.fixture(scope="module")
def trained(shared_data_root):
    root = shared_data_root
    if root is None:
        pytest.skip("needs ../shared/data/images/mnist.npz (set DEEPLEARN_DATA)")
    train = load_detection("mnist-detect", "train", data_dir=root, num_images=150)
    test = load_detection("mnist-detect", "test", data_dir=root, num_images=40)
    det = HogSvmDetector(mining_images=40, mining_rounds=1, hard_per_image=8).fit(train, progress=False)
    return det, test


@pytest.mark.slow
def test_hog_svm_learns_digits(trained):
    det, test = trained
    preds = [det.predict(image) for image, _ in test]
    r = evaluate_detections(preds, [t for _, t in test], test.classes)
    # chance: as many boxes of the digits' sizes at random places with random classes
    g = torch.Generator().manual_seed(0)
    chance = []
    for p, (image, _) in zip(preds, test):
        k = max(1, len(p["boxes"]))
        xy, wh = torch.rand(k, 2, generator=g) * 100, 14 + torch.rand(k, 2, generator=g) * 20
        chance.append({"boxes": torch.cat([xy, xy + wh], 1), "scores": torch.rand(k, generator=g),
                       "labels": torch.randint(0, 10, (k,), generator=g)})
    base = evaluate_detections(chance, [t for _, t in test], test.classes)
    assert r["map50"] > 0.15 and r["map50"] > 5 * base["map50"] and r["coco_map"] > 0.05, (r, base["map50"])
    assert det.history["rounds"][1]["negatives"][0] > det.history["rounds"][0]["negatives"][0]  # mining added some
    p = preds[0]
    assert p["boxes"].shape[1] == 4 and ((p["scores"] > 0) & (p["scores"] < 1)).all()


@pytest.mark.slow
def test_save_load_round_trip(trained, tmp_path):
    det, test = trained
    det.save(tmp_path / "hog")
    again = HogSvmDetector.load(tmp_path / "hog")
    image = test[0][0]
    a, b = det.predict(image), again.predict(image)
    assert torch.equal(a["boxes"], b["boxes"]) and torch.allclose(a["scores"], b["scores"]) and again.classes == det.classes
    (tmp_path / "hog.json").write_text('{"format": "other"}')
    with pytest.raises(DataError, match="not a HOG-SVM model"):
        HogSvmDetector.load(tmp_path / "hog")


def test_unknown_option():
    with pytest.raises(DataError, match="unknown HOG-SVM option"):
        HogSvmDetector(window=3)


def test_score_maps_of_several_sizes_equal_one_by_one():
    from deeplearn.vision.detect.hog_features import score_maps

    rng = np.random.default_rng(2)
    blocks = rng.random((12, 15, 2, 2, 9))
    ws = [rng.standard_normal((5, 3, 2, 2, 9)), rng.standard_normal((7, 7, 2, 2, 9)), rng.standard_normal((5, 1, 2, 2, 9))]
    for got, w, b in zip(score_maps(blocks, ws, [0.1, -0.2, 0.3]), ws, [0.1, -0.2, 0.3]):
        assert np.allclose(got, score_map(blocks, w, b), atol=1e-4)

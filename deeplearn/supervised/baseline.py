"""Traditional machine learning beside the neural nets (the lecture's "Traditional machine learning" slide):
hand-chosen features (here raw pixels, standardized) and a classical learner from scikit-learn."""

from __future__ import annotations

import time

import numpy as np

from deeplearn.supervised import data as datasets

METHODS = ["logreg", "svm", "forest"]


def make(method: str, seed: int):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    if method == "logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    if method == "svm":  # RBF kernel, scale-aware gamma
        return make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale"))
    if method == "forest":
        return RandomForestClassifier(n_estimators=300, n_jobs=-1, random_state=seed)
    raise ValueError(f"unknown method {method!r}; known: {', '.join(METHODS)}")


def run(method: str, dataset: str, data_dir=None, val_fraction: float = 0.1, max_train: int | None = None,
        seed: int = 0) -> dict:
    d = datasets.load(dataset, data_dir)
    (xtr, ytr), (xva, yva) = datasets.split_validation(d.x_train, d.y_train, val_fraction, seed=0)
    if max_train:
        xtr, ytr = xtr[:max_train], ytr[:max_train]

    def flat(x):
        return x.reshape(len(x), -1).numpy().astype(np.float32) / d.pixel_max

    clf = make(method, seed)
    t0 = time.perf_counter()
    clf.fit(flat(xtr), ytr.numpy())
    fit_s = time.perf_counter() - t0
    out = {"method": method, "dataset": d.name, "num_train": len(xtr), "fit_time_s": round(fit_s, 3)}
    if len(xva):
        out["final"] = {"val_acc": float((clf.predict(flat(xva)) == yva.numpy()).mean())}
    out["test"] = {"test_acc": float((clf.predict(flat(d.x_test)) == d.y_test.numpy()).mean())}
    return out

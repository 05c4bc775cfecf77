"""LearnSPN (Gens and Domingos 2013, "Learning the Structure of Sum-Product Networks") for binary data.

Top-down recursion on a slice (instances x variables):
- one variable: a univariate leaf (smoothed counts);
- fewer than `min_instances` instances: a naive-Bayes factorization (a product of univariate leaves);
- else split the variables: a G-test of pairwise independence builds a dependency graph; if it has several
  connected components, a product node over them;
- else cluster the instances (k-means, or EM on a two-component naive-Bayes mixture): a sum node whose weights
  are the cluster proportions.
The result is a Graph with every parameter set, compiled to the same tensorized circuit as every structure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse.csgraph import connected_components
from scipy.stats import chi2

from deeplearn.spn.graph import Graph


@dataclass
class LearnSPNConfig:
    min_instances: int = 200  # slices with fewer instances become naive-Bayes products
    pvalue: float = 0.001  # G-test significance: a pair is dependent when p < pvalue
    clustering: str = "kmeans"  # kmeans | em
    clusters: int = 2
    alpha: float = 0.1  # leaf smoothing (pseudo-count per value)
    seed: int = 0
    max_nodes: int = 200_000  # a guard against runaway structures


def g_statistics(x: np.ndarray) -> np.ndarray:
    """G = 2 sum_ab O_ab ln(O_ab / E_ab) for every pair of binary columns: [V, V] (= 2 N MI(u, v))."""
    x = x.astype(np.float64)
    n = len(x)
    n11 = x.T @ x
    c = x.sum(0)
    n10, n01 = c[:, None] - n11, c[None, :] - n11
    n00 = n - n11 - n10 - n01
    g = np.zeros_like(n11)
    for obs, ru, rv in ((n11, c, c), (n10, c, n - c), (n01, n - c, c), (n00, n - c, n - c)):
        exp = ru[:, None] * rv[None, :] / n
        with np.errstate(divide="ignore", invalid="ignore"):
            g += np.where(obs > 0, obs * np.log(obs / exp), 0.0)
    g = 2 * g
    np.fill_diagonal(g, 0.0)
    return g


def variable_components(x: np.ndarray, pvalue: float) -> list[np.ndarray]:
    """Groups of columns that the G-test cannot separate (connected components of the dependency graph)."""
    threshold = chi2.isf(pvalue, df=1)  # binary pairs: (2-1)(2-1) degrees of freedom
    dependent = g_statistics(x) > threshold
    k, labels = connected_components(dependent, directed=False)
    return [np.flatnonzero(labels == i) for i in range(k)]


def cluster(x: np.ndarray, cfg: LearnSPNConfig, rng: np.random.Generator) -> np.ndarray:
    """Cluster labels [N] of the instances."""
    if cfg.clustering == "kmeans":
        from sklearn.cluster import KMeans

        return KMeans(cfg.clusters, n_init=2, max_iter=50, random_state=int(rng.integers(1 << 31))).fit_predict(x)
    if cfg.clustering == "em":
        return naive_bayes_em(x, cfg.clusters, rng)
    raise ValueError(f"unknown clustering {cfg.clustering!r}: use kmeans or em")


def naive_bayes_em(x: np.ndarray, k: int, rng: np.random.Generator, iters: int = 15) -> np.ndarray:
    """Hard labels from EM on a mixture of k naive-Bayes (independent Bernoulli) components."""
    x = x.astype(np.float64)
    resp = rng.dirichlet(np.ones(k), size=len(x))  # [N, k]
    for _ in range(iters):
        nk = resp.sum(0) + 1e-9
        pi = nk / nk.sum()
        p = np.clip((resp.T @ x + 0.1) / (nk[:, None] + 0.2), 1e-6, 1 - 1e-6)  # [k, V]
        logp = x @ np.log(p).T + (1 - x) @ np.log1p(-p).T + np.log(pi)  # [N, k]
        logp -= logp.max(1, keepdims=True)
        resp = np.exp(logp)
        resp /= resp.sum(1, keepdims=True)
    return resp.argmax(1)


def learnspn(x: np.ndarray, cfg: LearnSPNConfig | None = None, progress=None) -> Graph:
    """Learn an SPN from binary data x [N, V].

    Args:
        cfg: the options (defaults: LearnSPNConfig()).
        progress: optional callable(number of nodes) called as nodes are made.
    Returns:
        a checked Graph with every parameter set.
    """
    cfg = cfg or LearnSPNConfig()
    rng = np.random.default_rng(cfg.seed)
    g = Graph(x.shape[1], 2)
    x = np.asarray(x, dtype=np.uint8)

    def leaf(rows: np.ndarray, var: int) -> int:
        ones = float(x[rows, var].sum())
        p1 = (ones + cfg.alpha) / (len(rows) + 2 * cfg.alpha)
        return g.leaf(var, [1 - p1, p1])

    def naive_bayes(rows, cols) -> int:
        leaves = [leaf(rows, int(v)) for v in cols]
        return leaves[0] if len(leaves) == 1 else g.product(leaves)

    def build(rows: np.ndarray, cols: np.ndarray, try_split: bool) -> int:
        if progress and len(g) % 500 == 0:
            progress(len(g))
        if len(g) > cfg.max_nodes:
            raise RuntimeError(f"LearnSPN made more than {cfg.max_nodes} nodes; raise --min-instances")
        if len(cols) == 1:
            return leaf(rows, int(cols[0]))
        if len(rows) < cfg.min_instances:
            return naive_bayes(rows, cols)
        if try_split:
            comps = variable_components(x[np.ix_(rows, cols)], cfg.pvalue)
            if len(comps) > 1:
                return g.product([build(rows, cols[c], False) for c in comps])
        labels = cluster(x[np.ix_(rows, cols)], cfg, rng)
        parts = [rows[labels == k] for k in np.unique(labels)]
        if len(parts) < 2:
            return naive_bayes(rows, cols)
        children = [build(p, cols, True) for p in parts]
        return g.sum(children, [len(p) / len(rows) for p in parts])

    build(np.arange(len(x)), np.arange(x.shape[1]), True)
    g.check()
    return g

"""LearnSPN (Gens and Domingos 2013, "Learning the Structure of Sum-Product Networks") for binary data, and for
real data with Gaussian leaves.

Top-down recursion on a slice (instances x variables):
- one variable: a univariate leaf (smoothed counts; Gaussian: the slice's mean and smoothed variance);
- fewer than `min_instances` instances: a naive-Bayes factorization (a product of univariate leaves);
- else split the variables: a pairwise independence test builds a dependency graph, the G-test for binary data
  or the randomized dependence coefficient (RDC; Lopez-Paz, Hennig and Schoelkopf 2013) for any data, as in the
  mixed SPNs of Molina et al. 2018; if the graph has several connected components, a product node over them;
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
    independence: str = "g"  # g (G-test, binary data) | rdc (randomized dependence coefficient)
    rdc_threshold: float = 0.3  # rdc: a pair is dependent when its RDC exceeds this
    rdc_features: int = 10  # rdc: random sine features per variable
    leaf_type: str = "categorical"  # categorical (binary) | gaussian
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


def rdc_matrix(x: np.ndarray, k: int = 10, s: float = 1 / 6, seed: int = 0, chunk: int = 64) -> np.ndarray:
    """The randomized dependence coefficient of every pair of columns [V, V] (Lopez-Paz et al. 2013): each column
    is mapped to its empirical copula (ranks / N), then to k random features sin(w u + b) with (w, b) ~ N(0, s);
    the RDC of a pair is the largest canonical correlation between their feature sets. The canonical correlations
    of a pair are the singular values of Q_u^T Q_v, Q being an orthonormal basis of each column's centred
    features (of rank 1 for a binary column, where the RDC is the absolute correlation)."""
    from scipy.stats import rankdata

    rng = np.random.default_rng(seed)
    n, v = x.shape
    u = rankdata(x, axis=0, method="max") / n  # [N, V]
    w = rng.normal(0.0, np.sqrt(s), (2, v, k))
    feats = np.sin(u[:, :, None] * w[0][None] + w[1][None])  # [N, V, k]
    feats -= feats.mean(0, keepdims=True)
    bases = []
    for j in range(v):
        q, sv, _ = np.linalg.svd(feats[:, j], full_matrices=False)
        bases.append(q[:, sv > 1e-8 * max(sv.max(), 1e-300)])
    r = max(1, max(b.shape[1] for b in bases))
    q = np.zeros((n, v, r))
    for j, b in enumerate(bases):
        q[:, j, :b.shape[1]] = b
    q = q.reshape(n, v * r)
    out = np.zeros((v, v))
    for a in range(0, v, chunk):
        blk = (q[:, a * r:(a + chunk) * r].T @ q).reshape(-1, r, v, r).transpose(0, 2, 1, 3)  # [c, V, r, r]
        out[a:a + chunk] = np.linalg.svd(blk, compute_uv=False)[..., 0] if r > 1 else np.abs(blk[..., 0, 0])
    np.fill_diagonal(out, 0.0)
    return np.clip(out, 0.0, 1.0)


def variable_components(x: np.ndarray, pvalue: float, independence: str = "g", rdc_threshold: float = 0.3,
                        rdc_features: int = 10, seed: int = 0) -> list[np.ndarray]:
    """Groups of columns that the independence test cannot separate (connected components of the dependency
    graph): the G-test at significance `pvalue`, or the RDC above `rdc_threshold`."""
    if independence == "rdc":
        dependent = rdc_matrix(x, rdc_features, seed=seed) > rdc_threshold
    elif independence == "g":
        threshold = chi2.isf(pvalue, df=1)  # binary pairs: (2-1)(2-1) degrees of freedom
        dependent = g_statistics(x) > threshold
    else:
        raise ValueError(f"unknown independence test {independence!r}: use g or rdc")
    k, labels = connected_components(dependent, directed=False)
    return [np.flatnonzero(labels == i) for i in range(k)]


def cluster(x: np.ndarray, cfg: LearnSPNConfig, rng: np.random.Generator) -> np.ndarray:
    """Cluster labels [N] of the instances."""
    if cfg.clustering == "kmeans":
        import warnings

        from sklearn.cluster import KMeans
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():  # a slice of identical rows gives one cluster: then a naive-Bayes leaf
            warnings.simplefilter("ignore", ConvergenceWarning)
            return KMeans(cfg.clusters, n_init=2, max_iter=50,
                          random_state=int(rng.integers(1 << 31))).fit_predict(x)
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
    gaussian = cfg.leaf_type == "gaussian"
    if gaussian and cfg.independence == "g":
        raise ValueError("the G-test is for binary data: use the RDC test with Gaussian leaves")
    g = Graph(x.shape[1], 2, cfg.leaf_type)
    x = np.asarray(x, dtype=np.float64) if gaussian else np.asarray(x, dtype=np.uint8)
    var_prior = max(float(x.var(0).mean()), 1e-4) if gaussian else 0.0

    def leaf(rows: np.ndarray, var: int) -> int:
        if gaussian:  # variance smoothed by alpha pseudo-instances of the data's mean variance
            col = x[rows, var]
            var_ = (((col - col.mean()) ** 2).sum() + cfg.alpha * var_prior) / (len(rows) + cfg.alpha)
            return g.leaf(var, [float(col.mean()), float(np.sqrt(max(var_, 1e-4)))])
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
            seed = int(rng.integers(1 << 31)) if cfg.independence == "rdc" else 0  # (the G-test draws nothing)
            comps = variable_components(x[np.ix_(rows, cols)], cfg.pvalue, cfg.independence, cfg.rdc_threshold,
                                        cfg.rdc_features, seed)
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

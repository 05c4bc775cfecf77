"""Baselines of the binary benchmarks: independent Bernoulli variables and a Chow-Liu tree (Chow and Liu 1968),
fitted on train with the smoothing chosen on valid.

Smoothing: additive pseudo-counts alpha. The independent model uses p_v = (n_v + alpha) / (N + 2 alpha); the tree
smooths the pairwise tables, p_uv(a, b) = (n_uv(a, b) + alpha) / (N + 4 alpha), and takes the marginals of that
smoothed table, so that the tree's factors p(x_v | x_parent) are consistent. The maximum spanning tree on the
mutual information is rooted at variable 0.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse.csgraph import breadth_first_order, minimum_spanning_tree

ALPHAS = (0.01, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


def independent_fit(x: np.ndarray, alpha: float) -> np.ndarray:
    """P(X_v = 1) [V]."""
    return (x.sum(0) + alpha) / (len(x) + 2 * alpha)


def independent_ll(p: np.ndarray, x: np.ndarray) -> float:
    """Mean log-likelihood (nats/instance)."""
    return float((x * np.log(p) + (1 - x) * np.log1p(-p)).sum(1).mean())


def pair_tables(x: np.ndarray, alpha: float) -> np.ndarray:
    """Smoothed pairwise joint probabilities P(X_u = a, X_v = b): [V, V, 2, 2]."""
    x = x.astype(np.float64)
    n = len(x)
    n11 = x.T @ x
    c = x.sum(0)
    n10 = c[:, None] - n11
    n01 = c[None, :] - n11
    n00 = n - n11 - n10 - n01
    t = np.stack([np.stack([n00, n01], -1), np.stack([n10, n11], -1)], -2)  # [V, V, a, b]
    return (t + alpha) / (n + 4 * alpha)


def mutual_information(joint: np.ndarray) -> np.ndarray:
    """MI [V, V] from pairwise tables [V, V, 2, 2] (their own marginals)."""
    pu = joint.sum(3, keepdims=True)
    pv = joint.sum(2, keepdims=True)
    mi = (joint * (np.log(joint) - np.log(pu) - np.log(pv))).sum((2, 3))
    np.fill_diagonal(mi, 0.0)
    return mi


def chow_liu_parents(mi: np.ndarray, root: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The maximum spanning tree of MI, oriented away from `root`.

    Returns:
        (parents [V] with -1 at the root, a breadth-first order of the variables starting at the root).
    """
    v = len(mi)
    # Positive costs for every pair (scipy drops zero entries): a minimum tree of (C - MI) is a maximum tree of MI.
    cost = (mi.max() + 1.0) - mi
    np.fill_diagonal(cost, 0.0)
    tree = minimum_spanning_tree(cost)
    tree = tree + tree.T
    order, pred = breadth_first_order(tree, root, directed=False)
    if len(order) != v:
        raise RuntimeError("the spanning tree does not reach every variable")
    parents = np.where(pred < 0, -1, pred).astype(np.int64)
    parents[root] = -1
    return parents, order


class ChowLiuTree:
    """p(x) = p(x_root) prod_v p(x_v | x_parent(v)) from smoothed pairwise counts.

    Args:
        x: training data [N, V] of 0/1.
        alpha: pseudo-count of each cell of every pairwise table.
    """

    def __init__(self, x: np.ndarray, alpha: float, root: int = 0):
        joint = pair_tables(x, alpha)
        self.parents, self.order = chow_liu_parents(mutual_information(joint), root)
        v = x.shape[1]
        self.root = root
        # The marginal of v from any of its pairwise tables (all agree: (n_v(a) + 2 alpha) / (N + 4 alpha)).
        other = (np.arange(v) + 1) % v
        self.marginal = joint[np.arange(v), other].sum(-1)  # [V, 2]
        # cond[v, a, b] = p(x_v = b | x_parent = a)
        self.cond = np.zeros((v, 2, 2))
        for c in range(v):
            p = self.parents[c]
            if p >= 0:
                pc = joint[p, c]  # [a = x_p, b = x_c]
                self.cond[c] = pc / pc.sum(1, keepdims=True)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x) [N]."""
        x = x.astype(np.int64)
        out = np.log(self.marginal[self.root, x[:, self.root]])
        for c in range(x.shape[1]):
            p = self.parents[c]
            if p >= 0:
                out = out + np.log(self.cond[c, x[:, p], x[:, c]])
        return out


def select_alpha(fit, score, train: np.ndarray, valid: np.ndarray, alphas=ALPHAS):
    """The model fitted with the alpha of the best validation score, and a table of every alpha's score.

    Returns:
        (model, best alpha, {alpha: valid mean LL}).
    """
    scores = {}
    best = None
    for a in alphas:
        m = fit(train, a)
        scores[a] = score(m, valid)
        if best is None or scores[a] > scores[best[1]]:
            best = (m, a)
    return best[0], best[1], scores


def run_baselines(data: dict[str, np.ndarray]) -> dict:
    """Independent and Chow-Liu test LL on one data set (alpha chosen on valid)."""
    ind, a_ind, _ = select_alpha(independent_fit, lambda p, x: independent_ll(p, x), data["train"], data["valid"])
    clt, a_clt, _ = select_alpha(ChowLiuTree, lambda m, x: float(m.log_prob(x).mean()), data["train"],
                                 data["valid"])
    return {"independent": {"test_ll": independent_ll(ind, data["test"]), "alpha": a_ind,
                            "valid_ll": independent_ll(ind, data["valid"])},
            "chow_liu": {"test_ll": float(clt.log_prob(data["test"]).mean()), "alpha": a_clt,
                         "valid_ll": float(clt.log_prob(data["valid"]).mean())}}

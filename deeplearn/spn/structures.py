"""Tensorizable structures: trees of latent variables (HCLT, and the Chow-Liu tree itself) and random region
graphs (RAT-SPN).

- HCLT (Liu and Van den Broeck 2021, "Tractable Regularization of Probabilistic Circuits"): the Chow-Liu tree
  of the observed variables, with a K-state latent Z_v attached to each X_v; the latents follow the tree,
  p(z) = p(z_root) prod_v p(z_v | z_parent), and each X_v depends on its Z_v alone.
- RAT-SPN (Peharz et al. 2019, "Random Sum-Product Networks"): R repetitions of a random binary split of the
  variables down to depth D; each leaf region holds I factorized input distributions, each inner region S sums
  over the products of every pair of its two halves' nodes, and the root sums over every repetition.
"""

from __future__ import annotations

import numpy as np

from deeplearn.spn.baselines import ChowLiuTree, chow_liu_parents, mutual_information, pair_tables
from deeplearn.spn.graph import LEAF, Graph


def tree_graph(parents: np.ndarray, order: np.ndarray, hidden: int, leaf_probs=None, weights=None,
               root_weights=None) -> Graph:
    """The circuit of a tree of K-state latents over binary variables.

    Node P(v, k) = leaf(v, k)(x_v) * prod_{c child of v} S(c, k) and S(c, k) = sum_j w[c, k, j] P(c, j); the root
    is sum_k w_root[k] P(root, k).

    Args:
        parents: [V] parent of each variable (-1 at the root); order: a breadth-first order from the root.
        hidden: K.
        leaf_probs: optional [V, K, 2]; weights: optional [V, K, K] (w[c, k_parent, j]); root_weights: [K].
    """
    v = len(parents)
    g = Graph(v, 2)
    kids = [[] for _ in range(v)]
    for c in order:
        if parents[c] >= 0:
            kids[parents[c]].append(int(c))
    s_nodes: dict[int, list[int]] = {}
    root = int(order[0])
    for var in reversed(order):  # children before parents
        var = int(var)
        prods = []
        for k in range(hidden):
            leaf = g.leaf(var, None if leaf_probs is None else leaf_probs[var, k])
            prods.append(g.product([leaf] + [s_nodes[c][k] for c in kids[var]]))
        if var == root:
            g.sum(prods, root_weights)
        else:
            s_nodes[var] = [g.sum(prods, None if weights is None else weights[var, k]) for k in range(hidden)]
    return g


def chow_liu_graph(clt: ChowLiuTree) -> Graph:
    """A fitted Chow-Liu tree as a (selective) circuit: K = 2 latents equal to the variables (indicator leaves)."""
    v = len(clt.parents)
    leaves = np.zeros((v, 2, 2))
    leaves[:, 0, 0] = leaves[:, 1, 1] = 1.0
    return tree_graph(clt.parents, clt.order, 2, leaves, clt.cond, clt.marginal[clt.root])


def hclt_graph(x: np.ndarray, hidden: int = 16, alpha: float = 0.01, init: str = "random", seed: int = 0
               ) -> Graph:
    """HCLT over training data x [N, V]: the Chow-Liu tree of x (MI from tables smoothed by alpha), latents of
    `hidden` states.

    Args:
        init: "random" leaves the parameters to the circuit's random start; "clt" starts near the Chow-Liu tree
            itself: latent state k stands for the value k mod 2 (its leaf puts 0.98 on it), and the latent
            transitions follow the tree's conditionals p(x_c | x_parent), with random noise to break symmetry.
    """
    parents, order = chow_liu_parents(mutual_information(pair_tables(x, alpha)), root=0)
    if init == "random":
        return tree_graph(parents, order, hidden)
    if init != "clt":
        raise ValueError(f"unknown init {init!r}: random or clt")
    rng = np.random.default_rng(seed)
    clt = ChowLiuTree(x, max(alpha, 0.1))
    bit = np.arange(hidden) % 2
    leaves = np.where(bit[None, :, None] == np.arange(2)[None, None, :], 0.98, 0.02).repeat(len(parents), 0)
    noise = rng.uniform(0.8, 1.2, (len(parents), hidden, hidden))
    cond = np.where(clt.parents[:, None, None] >= 0, clt.cond, 0.5)  # (the root's row is unused)
    weights = cond[:, bit][:, :, bit] * noise  # [V, k_parent, j]
    weights /= weights.sum(-1, keepdims=True)
    root_w = clt.marginal[order[0]][bit] * rng.uniform(0.8, 1.2, hidden)
    return tree_graph(parents, order, hidden, leaves, weights, root_w / root_w.sum())


def rat_graph(num_vars: int, depth: int = 3, repetitions: int = 10, sums: int = 10, inputs: int = 10,
              seed: int = 0, num_states: int = 2, leaf_type: str = "categorical") -> Graph:
    """A RAT-SPN region graph compiled to a Graph (parameters left to the circuit's random start).

    Args:
        depth: binary splits per repetition (leaf regions hold about V / 2^depth variables).
        repetitions: R random partitions; sums: S per inner region; inputs: I per leaf region.
        num_states: values of each variable (categorical leaves); leaf_type: categorical or gaussian.
    """
    rng = np.random.default_rng(seed)
    g = Graph(num_vars, num_states, leaf_type)
    top = []
    for _ in range(repetitions):
        top += _rat_region(g, rng.permutation(num_vars), depth, sums, inputs, is_root=True)
    g.sum(top)
    return g


def _rat_region(g: Graph, variables: np.ndarray, depth: int, sums: int, inputs: int, is_root: bool) -> list[int]:
    """The nodes of one region: leaf regions give `inputs` factorized distributions; an inner region gives the
    S sums over the products of its halves' nodes (the root region gives the products themselves)."""
    if depth == 0 or len(variables) == 1:
        return [g.product([g.leaf(int(v)) for v in variables]) if len(variables) > 1 else g.leaf(int(variables[0]))
                for _ in range(inputs)]
    half = len(variables) // 2
    left = _rat_region(g, variables[:half], depth - 1, sums, inputs, False)
    right = _rat_region(g, variables[half:], depth - 1, sums, inputs, False)
    prods = [g.product([a, b]) for a in left for b in right]
    return prods if is_root else [g.sum(prods) for _ in range(sums)]


def init_gaussian_leaves(g: Graph, x: np.ndarray, seed: int = 0) -> None:
    """Set every unset Gaussian leaf (in place) from data x [N, V]: its mean the value of a random training
    instance, its standard deviation that of its variable (so the leaves of one variable start spread over the
    data, not all at one point)."""
    rng = np.random.default_rng(seed)
    sd = np.sqrt(np.maximum(np.nanvar(x, 0), 1e-4))
    for n, (kind, var, p) in enumerate(zip(g.kind, g.var, g.params)):
        if kind == LEAF and p is None:
            g.params[n] = np.asarray([x[rng.integers(len(x)), var], sd[var]], dtype=np.float64)

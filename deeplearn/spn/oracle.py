"""The same circuit in DeeProb-kit (`pip install deeprob-kit`), a node-by-node SPN library, as an oracle and a
speed reference. Optional: importing this module needs the package."""

from __future__ import annotations

import numpy as np

from deeplearn.spn.graph import LEAF, PRODUCT, Graph


def to_deeprob(g: Graph):
    """A DeeProb-kit SPN (root node) with the structure and parameters of a binary Graph whose parameters are
    all set (e.g. `Circuit.to_graph()`)."""
    from deeprob.spn.structure.leaf import Bernoulli
    from deeprob.spn.structure.node import Product, Sum, assign_ids

    if g.num_states != 2:
        raise ValueError("the DeeProb-kit export covers binary leaves only")
    nodes = []
    for kind, var, ch, p in zip(g.kind, g.var, g.children, g.params):
        if kind == LEAF:
            nodes.append(Bernoulli(var, p=float(p[1])))
        elif kind == PRODUCT:
            nodes.append(Product(children=[nodes[c] for c in ch]))
        else:
            w = np.asarray(p, dtype=np.float64)
            nodes.append(Sum(children=[nodes[c] for c in ch], weights=w / w.sum()))
    return assign_ids(nodes[g.root_id()])


def deeprob_log_prob(root, x: np.ndarray) -> np.ndarray:
    """log p(x) [B] by DeeProb-kit; missing values (-1) become its NaN marginalization."""
    from deeprob.spn.algorithms.inference import log_likelihood

    xf = np.where(x < 0, np.nan, x).astype(np.float32)
    return np.asarray(log_likelihood(root, xf)).reshape(len(x))

"""A circuit as a plain graph of nodes: what the structure learners build and what is saved in a run.

Nodes are appended children-first, so a node's id is larger than its children's ids; the last node added is the
root unless `root` is set. `deeplearn.spn.circuit.Circuit` compiles a Graph into tensorized layers.

Leaves are categorical over `num_states` values (Bernoulli: num_states = 2) of one variable, or Gaussian over a
real variable (`leaf_type="gaussian"`, parameters [mean, standard deviation]).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from deeplearn.paths import DataError

LEAF, PRODUCT, SUM = 0, 1, 2
LEAF_TYPES = ("categorical", "gaussian")
KIND_NAMES = {LEAF: "leaf", PRODUCT: "product", SUM: "sum"}


class StructureError(DataError):
    """A circuit that is not a valid sum-product network (not complete, not decomposable, malformed)."""


class Graph:
    """Nodes of a circuit over `num_vars` categorical variables with `num_states` values each, or over real
    variables with Gaussian leaves.

    Args:
        num_vars: number of variables X_0 .. X_{V-1}.
        num_states: values per variable (2 for the binary benchmarks; ignored for Gaussian leaves).
        leaf_type: "categorical" or "gaussian".
    """

    def __init__(self, num_vars: int, num_states: int = 2, leaf_type: str = "categorical"):
        if leaf_type not in LEAF_TYPES:
            raise StructureError(f"unknown leaf type {leaf_type!r}: use one of {', '.join(LEAF_TYPES)}")
        self.leaf_type = leaf_type
        self.num_vars, self.num_states = int(num_vars), (int(num_states) if leaf_type == "categorical" else 0)
        self.kind: list[int] = []
        self.var: list[int] = []  # the leaf's variable, -1 for inner nodes
        self.children: list[list[int]] = []
        self.params: list[np.ndarray | None] = []  # leaf: probabilities [K]; sum: weights [#children]; or None
        self.root: int | None = None

    def __len__(self) -> int:
        return len(self.kind)

    def _add(self, kind: int, var: int, children: list[int], params) -> int:
        self.kind.append(kind)
        self.var.append(var)
        self.children.append(children)
        self.params.append(None if params is None else np.asarray(params, dtype=np.float64))
        return len(self.kind) - 1

    @property
    def gaussian(self) -> bool:
        return self.leaf_type == "gaussian"

    def leaf(self, var: int, probs=None) -> int:
        """A leaf over variable `var`: categorical probabilities [num_states], or Gaussian [mean, std]; None for a
        random start."""
        if not 0 <= var < self.num_vars:
            raise StructureError(f"leaf variable {var} is outside 0..{self.num_vars - 1}")
        return self._add(LEAF, int(var), [], probs)

    def indicator(self, var: int, value: int) -> int:
        """The indicator leaf [X_var = value]."""
        p = np.zeros(self.num_states)
        p[value] = 1.0
        return self.leaf(var, p)

    def product(self, children) -> int:
        return self._add(PRODUCT, -1, [int(c) for c in children], None)

    def sum(self, children, weights=None) -> int:
        return self._add(SUM, -1, [int(c) for c in children], weights)

    def root_id(self) -> int:
        if not self.kind:
            raise StructureError("the circuit has no nodes")
        return len(self.kind) - 1 if self.root is None else self.root

    # --- validity ---
    def check(self) -> None:
        """Raise StructureError unless this is a valid SPN: children before parents, every sum complete (all its
        children have one scope), every product decomposable (children of disjoint scopes), valid parameters, and
        the root's scope every variable."""
        scopes = self.scopes()
        root = self.root_id()
        full = (1 << self.num_vars) - 1
        if scopes[root] != full:
            missing = [v for v in range(self.num_vars) if not scopes[root] >> v & 1]
            raise StructureError(f"the root (node {root}) does not cover every variable: missing "
                                 f"{_vars(missing)}; every variable needs a leaf under the root")

    def scopes(self) -> list[int]:
        """Scope of each node as a bit mask of variables; checks the structure on the way (see `check`)."""
        scopes: list[int] = []
        for n, (kind, ch, p) in enumerate(zip(self.kind, self.children, self.params)):
            if any(not 0 <= c < n for c in ch):
                raise StructureError(f"node {n} ({KIND_NAMES[kind]}) has a child that is not an earlier node: {ch}")
            if kind == LEAF:
                if self.gaussian:
                    if p is not None and (p.shape != (2,) or not np.isfinite(p).all() or p[1] <= 0):
                        raise StructureError(f"Gaussian leaf {n}: parameters {p.tolist()} must be [mean, std] with "
                                             f"std > 0")
                elif p is not None and (p.shape != (self.num_states,) or (p < 0).any() or not
                                        math.isclose(p.sum(), 1.0, rel_tol=1e-6)):
                    raise StructureError(f"leaf {n}: probabilities {p.tolist()} are not a distribution over "
                                         f"{self.num_states} values")
                scopes.append(1 << self.var[n])
                continue
            if not ch:
                raise StructureError(f"node {n} ({KIND_NAMES[kind]}) has no children")
            if kind == PRODUCT:
                s = 0
                for c in ch:
                    if s & scopes[c]:
                        raise StructureError(f"product node {n} is not decomposable: its children share the "
                                             f"variables {_vars(_bits(s & scopes[c]))}")
                    s |= scopes[c]
            else:
                s = scopes[ch[0]]
                for c in ch[1:]:
                    if scopes[c] != s:
                        raise StructureError(f"sum node {n} is not complete: child {ch[0]} has scope "
                                             f"{_vars(_bits(s))} but child {c} has {_vars(_bits(scopes[c]))}")
                if p is not None and (p.shape != (len(ch),) or (p < 0).any() or p.sum() <= 0):
                    raise StructureError(f"sum node {n}: weights {p.tolist()} must be {len(ch)} non-negative "
                                         f"numbers with a positive sum")
            scopes.append(s)
        return scopes

    # --- (de)serialization ---
    def to_dict(self) -> dict:
        head = {"num_vars": self.num_vars, "num_states": self.num_states, "root": self.root_id()}
        if self.gaussian:
            head["leaf_type"] = "gaussian"
        return {**head, "nodes": [_node_dict(k, v, c, p) for k, v, c, p in zip(self.kind, self.var, self.children,
                                                                         self.params)]}

    @classmethod
    def from_dict(cls, d: dict, where: str = "structure") -> "Graph":
        """A Graph from `{"num_vars": V, "num_states": 2, "nodes": [...]}`; each node is
        `{"leaf": var, "p": [..]}`, `{"product": [children]}` or `{"sum": [children], "w": [..]}` (p, w
        optional), children being indices of earlier nodes. The last node is the root unless "root" is given."""
        try:
            g = cls(int(d["num_vars"]), int(d.get("num_states", 2)), str(d.get("leaf_type", "categorical")))
            for i, node in enumerate(d["nodes"]):
                if "leaf" in node:
                    g.leaf(int(node["leaf"]), node.get("p"))
                elif "product" in node:
                    g.product(node["product"])
                elif "sum" in node:
                    g.sum(node["sum"], node.get("w"))
                else:
                    raise StructureError(f"{where}: node {i} is none of leaf/product/sum: {node}")
            if d.get("root") is not None:
                g.root = int(d["root"])
        except (KeyError, TypeError, ValueError) as e:
            raise StructureError(f"{where}: not a circuit description ({type(e).__name__}: {e}); expected "
                                 f'{{"num_vars": V, "nodes": [{{"leaf": 0}}, {{"product": [0, 1]}}, ...]}}') from e
        g.check()
        return g

    @classmethod
    def load_json(cls, path) -> "Graph":
        try:
            d = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise StructureError(f"{path}: cannot read the structure ({e})") from e
        return cls.from_dict(d, str(path))

    def stats(self) -> dict:
        kinds = np.asarray(self.kind)
        return {"nodes": len(self), "leaves": int((kinds == LEAF).sum()), "products": int((kinds == PRODUCT).sum()),
                "sums": int((kinds == SUM).sum()), "edges": int(sum(len(c) for c in self.children)),
                "sum_edges": int(sum(len(c) for c, k in zip(self.children, self.kind) if k == SUM))}


def _node_dict(kind, var, children, params) -> dict:
    if kind == LEAF:
        d = {"leaf": var}
        if params is not None:
            d["p"] = params.tolist()
        return d
    d = {KIND_NAMES[kind]: list(children)}
    if kind == SUM and params is not None:
        d["w"] = params.tolist()
    return d


def _bits(mask: int) -> list[int]:
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def _vars(vs: list[int]) -> str:
    shown = ", ".join(f"x{v}" for v in vs[:8])
    return "{" + shown + (", ..." if len(vs) > 8 else "") + "}"


def naive_log_prob(g: Graph, x: np.ndarray) -> np.ndarray:
    """Reference evaluation, node by node in id order (numpy, log space), with every parameter given.

    Args:
        g: a graph whose leaves and sums all carry parameters.
        x: int array [B, V]; -1 marks a missing value (marginalized); float with NaN for missing if Gaussian.
    Returns:
        log p(x) [B].
    """
    x = np.asarray(x)
    vals: list[np.ndarray] = []
    with np.errstate(divide="ignore"):
        for kind, var, ch, p in zip(g.kind, g.var, g.children, g.params):
            if kind == LEAF and g.gaussian:
                xv = x[:, var].astype(np.float64)
                z = (np.nan_to_num(xv) - p[0]) / p[1]
                vals.append(np.where(np.isnan(xv), 0.0, -0.5 * z * z - np.log(p[1]) - 0.5 * math.log(2 * math.pi)))
            elif kind == LEAF:
                xv = x[:, var]
                vals.append(np.where(xv < 0, 0.0, np.log(p[np.clip(xv, 0, None)])))
            elif kind == PRODUCT:
                vals.append(np.sum([vals[c] for c in ch], axis=0))
            else:
                w = np.log(p / p.sum())
                stacked = np.stack([vals[c] + wc for c, wc in zip(ch, w)])
                m = np.max(stacked, axis=0)
                m = np.where(np.isfinite(m), m, 0.0)
                vals.append(np.log(np.exp(stacked - m).sum(0)) + m)
    return vals[g.root_id()]

"""Compiling a Graph into layers, and the batched log-space operations of one layer.

Every node gets a level (leaves 0; an inner node 1 + its children's highest level). Each level becomes a product
layer and a sum layer, whose nodes depend only on lower levels, so a whole layer is evaluated at once:

    product layer: out[b, n] = sum_{e: parent(e) = n} child[b, e]              (index_add in log space)
    sum layer:     out[b, n] = logsumexp_{e: parent(e) = n} (child[b, e] + log w_e)

where child[b, e] gathers the log-values of edge e's child from the layers below. A sum layer whose nodes all have
k children is evaluated densely as a [B, n, k] logsumexp.
"""

from __future__ import annotations

import numpy as np
import torch

from deeplearn.spn.graph import LEAF, PRODUCT, SUM, Graph, StructureError


def reachable(g: Graph) -> np.ndarray:
    """Bool [nodes]: reachable from the root."""
    seen = np.zeros(len(g), dtype=bool)
    stack = [g.root_id()]
    seen[stack[0]] = True
    while stack:
        n = stack.pop()
        for c in g.children[n]:
            if not seen[c]:
                seen[c] = True
                stack.append(c)
    return seen


def plan_layers(g: Graph) -> dict:
    """The layer plan of a checked graph (numpy arrays; see `Circuit`).

    Returns:
        {"leaves": node ids of the leaves (layer 0), "layers": [{"kind", "nodes", "parent", "child_layer",
        "child_local"}] for each inner layer, "where": [nodes, 2] (layer, local index) of every kept node}.
    """
    keep = reachable(g)
    level = np.zeros(len(g), dtype=np.int64)
    for n in range(len(g)):
        if keep[n] and g.kind[n] != LEAF:
            level[n] = 1 + max(level[c] for c in g.children[n])
    kinds = np.asarray(g.kind)
    where = np.full((len(g), 2), -1, dtype=np.int64)
    leaves = np.flatnonzero(keep & (kinds == LEAF))
    where[leaves, 0], where[leaves, 1] = 0, np.arange(len(leaves))
    groups = []
    for lvl in range(1, int(level.max()) + 1 if len(g) else 1):
        for kind in (PRODUCT, SUM):
            nodes = np.flatnonzero(keep & (kinds == kind) & (level == lvl))
            if len(nodes):
                where[nodes, 0], where[nodes, 1] = len(groups) + 1, np.arange(len(nodes))
                groups.append((kind, nodes))
    layers = []
    for kind, nodes in groups:
        block = _blocks(g, nodes) if kind == SUM else None
        if block is not None:
            nodes, refs, shape = block
            where[nodes, 1] = np.arange(len(nodes))
        else:
            refs, shape = [g.children[n] for n in nodes], None
        parent = np.concatenate([np.full(len(g.children[n]), i) for i, n in enumerate(nodes)])
        child = np.concatenate([np.asarray(r, dtype=np.int64) for r in refs])
        layers.append({"kind": kind, "nodes": nodes, "parent": parent, "child_layer": where[child, 0],
                       "child_local": where[child, 1], "block": shape})
    return {"leaves": leaves, "layers": layers, "where": where}


def _blocks(g: Graph, nodes: np.ndarray):
    """Sum nodes that share their children list form a block: G groups of S nodes over the same C children, so
    that the layer is a batched matrix product [B, G, C] x [G, C, S] (as in EiNets). None unless every group has
    the same S > 1 and C.

    Returns:
        (nodes reordered group by group, the G children lists, (G, S, C)) or None.
    """
    groups: dict[tuple, list[int]] = {}
    for n in nodes:
        groups.setdefault(tuple(g.children[n]), []).append(int(n))
    sizes = {(len(v), len(k)) for k, v in groups.items()}
    if len(sizes) != 1 or next(iter(sizes))[0] < 2:
        return None
    s, c = next(iter(sizes))
    return (np.asarray([n for v in groups.values() for n in v], dtype=np.int64), list(groups.keys()),
            (len(groups), s, c))


class Layer(torch.nn.Module):
    """One inner layer. Its references (child values it reads) are grouped by the layer the children live in;
    its edges (parent -> child, in parent order: node by node, child by child) are also the order of a sum
    layer's weights. Plain layers have one reference per edge; a block sum layer (G, S, C) reads G*C children
    and has G*S*C edges.

    Args:
        kind: PRODUCT or SUM; num_nodes: n; parent: [E] parent of each edge (local index);
        child_layer, child_local: [R] where each reference lives; block: (G, S, C) or None.
    """

    def __init__(self, kind: int, num_nodes: int, parent: np.ndarray, child_layer: np.ndarray,
                 child_local: np.ndarray, block: tuple[int, int, int] | None = None):
        super().__init__()
        self.kind, self.num_nodes, self.num_edges = kind, int(num_nodes), len(parent)
        self.block = tuple(block) if block else None
        self.register_buffer("parent", torch.as_tensor(parent, dtype=torch.long), persistent=False)
        self.sources = [int(s) for s in np.unique(child_layer)]
        positions = []
        for j, s in enumerate(self.sources):
            pos = np.flatnonzero(child_layer == s)
            positions.append(pos)
            self.register_buffer(f"idx{j}", torch.as_tensor(child_local[pos], dtype=torch.long), persistent=False)
            self.register_buffer(f"pos{j}", torch.as_tensor(pos, dtype=torch.long), persistent=False)
        order = np.concatenate(positions)  # concatenation order of the gathered pieces -> reference order
        self.permuted = not np.array_equal(order, np.arange(len(order)))
        self.register_buffer("perm", torch.as_tensor(np.argsort(order), dtype=torch.long), persistent=False)
        fan_in = np.bincount(parent, minlength=num_nodes)
        self.dense_k = int(fan_in[0]) if len(fan_in) and (fan_in == fan_in[0]).all() else 0

    def gather(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """Log-values of every reference: [B, R]."""
        pieces = [outs[s].index_select(1, getattr(self, f"idx{j}")) for j, s in enumerate(self.sources)]
        child = pieces[0] if len(pieces) == 1 else torch.cat(pieces, 1)
        return child.index_select(1, self.perm) if self.permuted else child

    def combine(self, child: torch.Tensor, logw: torch.Tensor | None, mode: str) -> torch.Tensor:
        """The layer's outputs [B, n] from reference values [B, R]; mode "sum" (logsumexp) or "max"."""
        if self.kind == PRODUCT:
            return child.new_zeros(child.shape[0], self.num_nodes).index_add_(1, self.parent, child)
        b = child.shape[0]
        if self.block:
            g, s, c = self.block
            if mode == "max":
                return self.edge_scores(child, logw).view(b, g * s, c).amax(-1)
            v = child.view(b, g, c)
            m = v.detach().amax(-1, keepdim=True)
            m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
            e = torch.exp(v - m).transpose(0, 1)  # [G, B, C]
            mixed = torch.bmm(e, logw.view(g, s, c).exp().transpose(1, 2))  # [G, B, S]
            return (torch.log(mixed) + m.transpose(0, 1)).transpose(0, 1).reshape(b, g * s)
        scores = child + logw
        if self.dense_k:
            v = scores.view(b, self.num_nodes, self.dense_k)
            return v.logsumexp(-1) if mode == "sum" else v.amax(-1)
        m = segment_max(scores.detach(), self.parent, self.num_nodes)
        if mode == "max":
            return m
        m0 = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        total = scores.new_zeros(b, self.num_nodes).index_add_(
            1, self.parent, torch.exp(scores - m0.index_select(1, self.parent)))
        return torch.log(total) + m0

    def edge_scores(self, child: torch.Tensor, logw: torch.Tensor) -> torch.Tensor:
        """child value + log-weight of every edge of a sum layer: [B, E]."""
        if self.block:
            g, s, c = self.block
            return (child.view(-1, g, 1, c) + logw.view(1, g, s, c)).reshape(child.shape[0], -1)
        return child + logw

    def edge_flow_to_refs(self, flow: torch.Tensor) -> torch.Tensor:
        """Flows per edge [B, E] -> per reference [B, R]."""
        if self.block:
            g, s, c = self.block
            return flow.view(-1, g, s, c).sum(2).reshape(flow.shape[0], g * c)
        return flow

    def choose(self, scores: torch.Tensor) -> torch.Tensor:
        """For a sum layer: one-hot [B, E] of the best-scoring edge of each node (lowest edge on ties)."""
        b, e = scores.shape
        if self.dense_k:
            best = scores.view(b, self.num_nodes, self.dense_k).argmax(-1)  # [B, n]
            onehot = torch.zeros(b, self.num_nodes, self.dense_k, dtype=scores.dtype, device=scores.device)
            return onehot.scatter_(2, best.unsqueeze(-1), 1.0).view(b, e)
        m = segment_max(scores, self.parent, self.num_nodes)
        hit = scores >= m.index_select(1, self.parent)
        edge = torch.arange(e, device=scores.device).expand(b, e)
        first = torch.full((b, self.num_nodes), e, device=scores.device, dtype=torch.long).scatter_reduce(
            1, self.parent.expand(b, e), torch.where(hit, edge, e), "amin", include_self=True)
        return (edge == first.index_select(1, self.parent)).to(scores.dtype)

    def push_down(self, flow: torch.Tensor, active: list[torch.Tensor]) -> None:
        """Add the reference flows [B, R] to the activity of the children in the layers below (in place)."""
        for j, s in enumerate(self.sources):
            active[s].index_add_(1, getattr(self, f"idx{j}"), flow.index_select(1, getattr(self, f"pos{j}")))

    def normalize(self, logits: torch.Tensor) -> torch.Tensor:
        """Log-weights [E] normalized per node from unnormalized log-weights [E]."""
        if self.dense_k:
            return logits.view(self.num_nodes, self.dense_k).log_softmax(-1).reshape(-1)
        m = segment_max(logits.detach().unsqueeze(0), self.parent, self.num_nodes)[0]
        m = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        z = torch.zeros(self.num_nodes, dtype=logits.dtype, device=logits.device).index_add_(
            0, self.parent, torch.exp(logits - m[self.parent]))
        return logits - (torch.log(z) + m)[self.parent]

    def node_sums(self, edge_values: torch.Tensor) -> torch.Tensor:
        """Per-node totals [n] of per-edge values [E]."""
        return torch.zeros(self.num_nodes, dtype=edge_values.dtype, device=edge_values.device).index_add_(
            0, self.parent, edge_values)


def segment_max(v: torch.Tensor, seg: torch.Tensor, n: int) -> torch.Tensor:
    """out[b, i] = max over e with seg[e] = i of v[b, e]: [B, E] -> [B, n] (-inf for an empty segment)."""
    b = v.shape[0]
    return v.new_full((b, n), float("-inf")).scatter_reduce(1, seg.expand(b, -1), v, "amax", include_self=True)


def check_compiled(g: Graph) -> None:
    if not g.gaussian and g.num_states < 2:
        raise StructureError(f"num_states must be at least 2, got {g.num_states}")
    g.check()

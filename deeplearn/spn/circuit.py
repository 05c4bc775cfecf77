"""The tensorized circuit: exact log-likelihood, marginals, MPE and conditional sampling, batched in log space.

Inputs are integer tensors x [B, V] with values in 0..K-1, and -1 for a missing value: a missing variable's
leaves evaluate to 1 (log 0) in a marginal pass, which sums the variable out exactly in a complete and
decomposable circuit. With Gaussian leaves, inputs are float tensors and NaN marks a missing value (its leaves
evaluate to 1 as well: a density integrates to 1 over the real line).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from deeplearn.spn.graph import LEAF, SUM, Graph, StructureError
from deeplearn.spn.layers import Layer, check_compiled, plan_layers


class Circuit(nn.Module):
    """A sum-product network compiled from a checked Graph.

    Parameters (all unnormalized log-space, normalized in the forward pass, so SGD may move them freely):
    `leaf_logits` [L, K] (categorical leaves) or `leaf_gauss` [L, 2] (Gaussian leaves: mean, log std) and one
    `logits{i}` [E_i] per sum layer. EM writes them directly.

    Args:
        g: the structure (and starting parameters, where given).
        seed: random start of the parameters the graph leaves unset.
    """

    def __init__(self, g: Graph, seed: int = 0):
        super().__init__()
        check_compiled(g)
        self.graph_dict = g.to_dict()  # the structure, as saved in a run
        self.num_vars, self.num_states = g.num_vars, g.num_states
        self.gaussian = g.gaussian
        plan = plan_layers(g)
        self.leaf_nodes = plan["leaves"]
        self.register_buffer("leaf_var", torch.as_tensor(np.asarray(g.var)[self.leaf_nodes], dtype=torch.long),
                             persistent=False)
        gen = np.random.default_rng(seed)
        k = g.num_states
        if self.gaussian:
            ms = np.stack([g.params[n] if g.params[n] is not None else [gen.normal(), 1.0]
                           for n in self.leaf_nodes]) if len(self.leaf_nodes) else np.zeros((0, 2))
            ms[:, 1] = np.log(ms[:, 1])
            self.leaf_gauss = nn.Parameter(torch.as_tensor(ms, dtype=torch.float32))
        else:
            leaf_p = np.stack([g.params[n] if g.params[n] is not None else gen.dirichlet(np.ones(k) * 5)
                               for n in self.leaf_nodes]) if len(self.leaf_nodes) else np.zeros((0, k))
            with np.errstate(divide="ignore"):
                self.leaf_logits = nn.Parameter(torch.as_tensor(np.log(leaf_p), dtype=torch.float32))
        self.layers = nn.ModuleList()
        self.sum_logits = nn.ParameterList()
        self.sum_index: list[int] = []  # layer -> index into sum_logits (-1 for product layers)
        self.layer_nodes = [plan["leaves"]]
        for spec in plan["layers"]:
            layer = Layer(spec["kind"], len(spec["nodes"]), spec["parent"], spec["child_layer"], spec["child_local"],
                          spec["block"])
            self.layers.append(layer)
            self.layer_nodes.append(spec["nodes"])
            if spec["kind"] == SUM:
                w = np.concatenate([g.params[n] / g.params[n].sum() if g.params[n] is not None
                                    else gen.uniform(0.5, 1.5, len(g.children[n])) for n in spec["nodes"]])
                with np.errstate(divide="ignore"):
                    self.sum_logits.append(nn.Parameter(torch.as_tensor(np.log(w), dtype=torch.float32)))
                self.sum_index.append(len(self.sum_logits) - 1)
            else:
                self.sum_index.append(-1)
        if not self.layers or len(self.layer_nodes[-1]) != 1:
            if len(self.leaf_nodes) == 1 and not self.layers:
                pass  # a single leaf is a (trivial) circuit
            else:
                raise StructureError("the top layer must hold the root alone")
        self.register_buffer("leaf_base", torch.arange(len(self.leaf_nodes)) * k, persistent=False)

    # --- parameters ---
    def params(self) -> list[torch.Tensor]:
        """Normalized log-parameters: [leaf table [L, K]] (Gaussian: [mean, log std] [L, 2]) + [log-weights [E_i]
        of each sum layer]."""
        out = [self.leaf_gauss if self.gaussian else self.leaf_logits.log_softmax(-1)]
        for layer, i in zip(self.layers, self.sum_index):
            if i >= 0:
                out.append(layer.normalize(self.sum_logits[i]))
        return out

    def num_parameters(self) -> int:
        """Free parameters: (K - 1) per leaf, (children - 1) per sum node."""
        n = len(self.leaf_nodes) * (2 if self.gaussian else self.num_states - 1)
        for layer, i in zip(self.layers, self.sum_index):
            if i >= 0:
                n += layer.num_edges - layer.num_nodes
        return n

    def to_graph(self) -> Graph:
        """The structure with the current parameters (normalized), e.g. for export or a reference evaluator."""
        g = Graph.from_dict(self.graph_dict)
        p = [t.detach().exp().cpu().double().numpy() for t in self.params()]
        if self.gaussian:
            p[0] = np.stack([self.leaf_gauss[:, 0].detach().double().numpy(), p[0][:, 1]], 1)
        for j, n in enumerate(self.leaf_nodes):
            g.params[n] = p[0][j]
        s = 1
        for layer, i, nodes in zip(self.layers, self.sum_index, self.layer_nodes[1:]):
            if i >= 0:
                w, start = p[s], 0
                for n in nodes:
                    g.params[n] = w[start:start + len(g.children[n])]
                    start += len(g.children[n])
                s += 1
        return g

    # --- the upward pass ---
    def leaf_values(self, x: torch.Tensor, table: torch.Tensor, mode: str) -> torch.Tensor:
        """Log-values of every leaf [B, L]: log p_l(x_var) where observed; 0 (sum) or max_k log p_l(k) (max) where
        missing (Gaussian: the log-density, and at a missing value 0 or the log-density at the mean)."""
        xl = x.index_select(1, self.leaf_var)  # [B, L]
        if self.gaussian:
            missing = torch.isnan(xl)
            z = (torch.where(missing, table[:, 0], xl) - table[:, 0]) * torch.exp(-table[:, 1])
            top = -table[:, 1] - 0.5 * math.log(2 * math.pi)
            fill = top.expand_as(z) if mode == "max" else torch.zeros_like(z)
            return torch.where(missing, fill, top - 0.5 * z * z)
        observed = xl >= 0
        vals = table.reshape(-1)[self.leaf_base + xl.clamp(min=0)]
        fill = table.amax(-1).expand_as(vals) if mode == "max" else torch.zeros_like(vals)
        return torch.where(observed, vals, fill)

    def upward(self, x: torch.Tensor, params: list[torch.Tensor] | None = None, mode: str = "sum",
               leaf: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Log-values of every layer: [leaves [B, L], layer 1 [B, n_1], ...] (`leaf`: given leaf log-values)."""
        self._check_input(x)
        params = self.params() if params is None else params
        outs = [self.leaf_values(x, params[0], mode) if leaf is None else leaf]
        for layer, i in zip(self.layers, self.sum_index):
            child = layer.gather(outs)
            outs.append(layer.combine(child, params[1 + i] if i >= 0 else None, mode))
        return outs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) [B]; missing values (-1) are summed out."""
        return self.upward(x)[-1][:, 0]

    log_prob = forward

    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 2 or x.shape[1] != self.num_vars:
            raise StructureError(f"input of shape {tuple(x.shape)}: the circuit takes [batch, {self.num_vars}]")
        if self.gaussian and not x.dtype.is_floating_point:
            raise StructureError("a circuit with Gaussian leaves takes float inputs (NaN for missing), not integers")
        if not self.gaussian and x.dtype.is_floating_point:
            raise StructureError("inputs must be integer values (0..K-1, -1 for missing), not floats")

    def conditional_marginals(self, x: torch.Tensor) -> torch.Tensor:
        """p(x_v = k | observed part of x) for every variable and value, in one upward and one backward pass.

        The circuit is multilinear in the leaves of a missing variable v, with exactly one of them in each induced
        tree, so p(x_v = k, e) = sum_{leaves l of v} dS/dL_l(e) p_l(k); the backward pass of log S with respect to
        the leaf log-values (all 0 for v) gives dS/dL_l / S.

        Returns:
            [B, V, K]; an observed variable gets the one-hot of its value.
        """
        if self.gaussian:
            raise StructureError("conditional_marginals needs categorical leaves; use conditional_means")
        flow, params = self.leaf_flows(x)
        out = torch.zeros(x.shape[0], self.num_vars, self.num_states, dtype=flow.dtype, device=flow.device)
        out.index_add_(1, self.leaf_var, flow.unsqueeze(-1) * params[0].exp().unsqueeze(0))
        onehot = torch.nn.functional.one_hot(x.clamp(min=0), self.num_states).to(out.dtype)
        return torch.where((x >= 0).unsqueeze(-1), onehot, out)

    def leaf_flows(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """d log S(x) / d (leaf log-value) [B, L]: for a missing variable, the posterior probability that each of
        its leaves is the one in the induced tree; and the parameters used."""
        with torch.no_grad():
            params = [p.detach() for p in self.params()]
        with torch.enable_grad():
            leaf = self.leaf_values(x, params[0], "sum").detach().requires_grad_()
            flow, = torch.autograd.grad(self.upward(x, params, leaf=leaf)[-1][:, 0].sum(), leaf)  # [B, L]
        return flow, params

    def conditional_means(self, x: torch.Tensor) -> torch.Tensor:
        """E[x_v | observed part of x] [B, V] for every variable (categorical: the mean value index; Gaussian: the
        mixture of the leaf means weighted by the leaf flows); an observed variable keeps its value."""
        if not self.gaussian:
            marg = self.conditional_marginals(x)
            return (marg * torch.arange(self.num_states, dtype=marg.dtype, device=marg.device)).sum(-1)
        flow, params = self.leaf_flows(x)
        out = torch.zeros(x.shape[0], self.num_vars, dtype=flow.dtype, device=flow.device)
        out.index_add_(1, self.leaf_var, flow * params[0][:, 0].unsqueeze(0))
        return torch.where(torch.isnan(x), out, x.to(out.dtype))

    # --- the downward pass: MPE and sampling ---
    @torch.no_grad()
    def downward(self, x: torch.Tensor, outs: list[torch.Tensor], params: list[torch.Tensor],
                 generator: torch.Generator | None) -> torch.Tensor:
        """Complete x by backtracking from the root: at a sum node follow the best edge (generator None: MPE) or
        an edge drawn with probability w_e * S_child / S_node (Gumbel-max), at a product node every edge; each
        missing variable takes its active leaf's mode or a draw from it."""
        b = x.shape[0]
        active = [torch.zeros_like(o) for o in outs]
        active[-1][:, 0] = 1.0
        for li in range(len(self.layers) - 1, -1, -1):
            layer, i = self.layers[li], self.sum_index[li]
            parent_on = active[li + 1].index_select(1, layer.parent)  # [B, E]
            if i >= 0:
                scores = layer.edge_scores(layer.gather(outs), params[1 + i])
                if generator is not None:
                    scores = scores + gumbel(scores.shape, generator, scores.device)
                parent_on = layer.edge_flow_to_refs(parent_on * layer.choose(scores))
            layer.push_down(parent_on, active)
        table = params[0]  # [L, K] (Gaussian: [L, 2])
        if self.gaussian:
            value = table[:, 0].expand(b, -1)  # the mode of the leaf, or a draw from it
            if generator is not None:
                noise = torch.randn((b, table.shape[0]), generator=generator, device=table.device)
                value = value + noise * table[:, 1].exp()
        elif generator is None:
            value = table.argmax(-1).expand(b, -1)
        else:
            value = (table.unsqueeze(0) + gumbel((b,) + tuple(table.shape), generator, table.device)).argmax(-1)
        chosen = torch.zeros(b, self.num_vars, dtype=torch.float64, device=x.device)
        chosen.index_add_(1, self.leaf_var, active[0].double() * value.double())
        if self.gaussian:
            return torch.where(torch.isnan(x), chosen.to(x.dtype), x)
        return torch.where(x >= 0, x, chosen.round().long())

    @torch.no_grad()
    def mpe(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The most probable completion of each row's missing values (max-product with backtracking).

        Returns:
            (completed x [B, V], its max-product log-value [B]); for a selective circuit (e.g. a Chow-Liu tree)
            the latter is log p of the completion, for a general SPN the log-probability of the best induced tree.
        """
        params = self.params()
        outs = self.upward(x, params, mode="max")
        return self.downward(x, outs, params, None), outs[-1][:, 0]

    @torch.no_grad()
    def sample(self, n: int | None = None, evidence: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
        """Exact samples: n unconditional ones, or one completion of each row of `evidence` drawn from
        p(missing | observed)."""
        if evidence is None:
            evidence = (torch.full((n, self.num_vars), float("nan"), device=self.leaf_var.device) if self.gaussian
                        else torch.full((n, self.num_vars), -1, dtype=torch.long, device=self.leaf_var.device))
        gen = torch.Generator(device=evidence.device).manual_seed(seed)
        params = self.params()
        return self.downward(evidence, self.upward(evidence, params), params, gen)


def gumbel(shape, generator, device) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device=device).clamp_(1e-12, 1 - 1e-7)
    return -torch.log(-torch.log(u))

"""Expectation-maximization for the parameters of a circuit (Peharz et al. 2020, "Einsum Networks", sec. 3.3).

The expected count of a sum edge e = (n -> c) over data D is sum_x w_e S_c(x) dS_root/dS_n(x) / S_root(x), which
is the gradient of sum_x log S_root(x) with respect to the normalized log-weight log w_e; likewise the expected
count of leaf l taking value k is the gradient with respect to its log-probability log p_l(k). One backward pass
of autograd thus gives every count (the circuit may be a DAG, not only a tree). The M-step sets
w_e = (count_e + alpha) / sum_{e' of n} (count_e' + alpha): a MAP step under a symmetric Dirichlet prior, which
for alpha = 0 is the maximum-likelihood step and never lowers the training likelihood.

Gaussian leaves: the leaf's flow (the gradient with respect to its log-density) is its posterior responsibility
r for each instance, and the M-step is the weighted mean and variance, mu = sum r x / sum r,
var = sum r (x - mu)^2 / sum r, with the variance pulled towards a prior (`alpha_leaf` pseudo-instances of
variance `var_prior`) and floored at `MIN_VAR`.

Mini-batch ("stepwise") EM moves the parameters a step lambda towards the M-step of each batch:
theta <- (1 - lambda) theta + lambda theta_batch.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch

from deeplearn.spn.circuit import Circuit


def expected_counts(circuit: Circuit, x: torch.Tensor, batch_size: int = 1024) -> tuple[list[torch.Tensor], float]:
    """E-step over x [N, V] in batches.

    Returns:
        (counts shaped like `circuit.params()`, total log-likelihood of x); for Gaussian leaves the first entry is
        [L, 3]: sum r, sum r x, sum r x^2 over the instances where the variable is observed.
    """
    with torch.no_grad():
        base = [p.detach() for p in circuit.params()]
    counts = [torch.zeros_like(p) for p in base]
    if circuit.gaussian:
        counts[0] = torch.zeros(base[0].shape[0], 3, dtype=torch.float64)
    total = 0.0
    for start in range(0, len(x), batch_size):
        xb = x[start:start + batch_size]
        params = [p.clone().requires_grad_() for p in base]
        if circuit.gaussian:
            leaf = circuit.leaf_values(xb, base[0], "sum").requires_grad_()
            ll = circuit.upward(xb, params, leaf=leaf)[-1][:, 0].sum()
            grads = torch.autograd.grad(ll, [leaf] + params[1:])
            xl = xb.index_select(1, circuit.leaf_var).double()
            r = torch.where(torch.isnan(xl), 0.0, grads[0].double())
            xl = torch.nan_to_num(xl)
            counts[0] += torch.stack([r.sum(0), (r * xl).sum(0), (r * xl * xl).sum(0)], 1)
            grads = [None] + list(grads[1:])
        else:
            ll = circuit.upward(xb, params)[-1][:, 0].sum()
            grads = torch.autograd.grad(ll, params)
        for c, g in zip(counts[1:] if circuit.gaussian else counts, grads[1:] if circuit.gaussian else grads):
            c += g
        total += float(ll.detach())
    return counts, total


MIN_VAR = 1e-4  # floor of a Gaussian leaf's variance (in squared data units)


@torch.no_grad()
def m_step(circuit: Circuit, counts: list[torch.Tensor], alpha_leaf: float = 0.0, alpha_sum: float = 0.0,
           step: float = 1.0, var_prior: float = 1.0) -> None:
    """Set the parameters from expected counts (a node or leaf without any count keeps its parameters).

    Args:
        counts: from `expected_counts`.
        alpha_leaf, alpha_sum: Dirichlet pseudo-counts added to every leaf value / sum edge.
        step: 1 for full EM; lambda in (0, 1] for stepwise EM.
    """
    old = [p.exp() for p in circuit.params()]
    if circuit.gaussian:
        gaussian_m_step(circuit, counts[0], alpha_leaf, step, var_prior)
    else:
        leaf = counts[0] + alpha_leaf
        total = leaf.sum(-1, keepdim=True)
        new = torch.where(total > 0, leaf / total.clamp(min=1e-300), old[0])
        circuit.leaf_logits.copy_(_log((1 - step) * old[0] + step * new))
    j = 1
    for layer, i in zip(circuit.layers, circuit.sum_index):
        if i < 0:
            continue
        c = counts[j] + alpha_sum
        z = layer.node_sums(c)[layer.parent]
        new = torch.where(z > 0, c / z.clamp(min=1e-300), old[j])
        circuit.sum_logits[i].copy_(_log((1 - step) * old[j] + step * new))
        j += 1


def gaussian_m_step(circuit: Circuit, stats: torch.Tensor, alpha: float, step: float, var_prior: float
                    ) -> None:
    """Weighted mean and variance of each Gaussian leaf from (sum r, sum r x, sum r x^2) [L, 3]; the variance is
    MAP under `alpha` pseudo-instances of variance `var_prior` (alpha = 0: maximum likelihood); a leaf without
    responsibility keeps its parameters."""
    n, s1, s2 = stats.unbind(1)
    mu_old = circuit.leaf_gauss[:, 0].double()
    var_old = torch.exp(2 * circuit.leaf_gauss[:, 1].double())
    mu = torch.where(n > 0, s1 / n.clamp(min=1e-300), mu_old)
    scatter = (s2 - n * mu * mu).clamp(min=0)
    var = torch.where(n > 0, (scatter + alpha * var_prior) / (n + alpha).clamp(min=1e-300), var_old)
    mu = (1 - step) * mu_old + step * mu
    var = ((1 - step) * var_old + step * var).clamp(min=MIN_VAR)
    circuit.leaf_gauss.copy_(torch.stack([mu, 0.5 * torch.log(var)], 1).to(circuit.leaf_gauss.dtype))


def _log(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p.clamp(min=0))


@torch.no_grad()
def mean_ll(circuit: Circuit, x: torch.Tensor, batch_size: int = 2048) -> float:
    """Mean log-likelihood (nats per instance) of x."""
    return sum(float(circuit(x[s:s + batch_size]).sum()) for s in range(0, len(x), batch_size)) / len(x)


@dataclass
class EMConfig:
    epochs: int = 20  # passes over the training data (mini-batch epochs, then full-batch ones)
    minibatch_epochs: int | None = None  # of them, how many are stepwise; default: all but the last 3 (or half)
    batch_size: int = 512
    step: float = 0.2  # lambda of stepwise EM at the first epoch (annealed to a tenth)
    alpha_leaf: float = 0.1
    alpha_sum: float = 0.01
    max_time: float | None = None  # seconds
    seed: int = 0
    patience: int | None = 4  # full-batch epochs without a better validation LL before stopping
    var_prior: float | None = None  # Gaussian leaves: prior variance (default: the training data's mean variance)


@dataclass
class EMHistory:
    rows: list = field(default_factory=list)  # {"epoch", "train_ll", "valid_ll", "time_s"}
    best_epoch: int = -1
    best_valid_ll: float = float("-inf")


def fit_em(circuit: Circuit, train: torch.Tensor, valid: torch.Tensor | None, cfg: EMConfig,
           progress=None) -> EMHistory:
    """Mini-batch then full-batch EM; keeps the parameters of the best validation epoch.

    Args:
        circuit: trained in place.
        train, valid: long tensors [N, V].
        progress: optional callable(row) after each epoch.
    """
    hist = EMHistory()
    gen = torch.Generator().manual_seed(cfg.seed)
    mb_epochs = cfg.minibatch_epochs if cfg.minibatch_epochs is not None else cfg.epochs - min(3, cfg.epochs // 2)
    best_state, bad, t0 = copy.deepcopy(circuit.state_dict()), 0, time.perf_counter()
    var_prior = cfg.var_prior
    if circuit.gaussian and var_prior is None:
        var_prior = max(float(torch.nanmean((train - torch.nanmean(train, 0)) ** 2)), MIN_VAR)
    var_prior = 1.0 if var_prior is None else var_prior
    if valid is not None:  # the start counts as epoch 0: EM from a learned structure never ends worse on valid
        hist.best_valid_ll = mean_ll(circuit, valid)
        hist.rows.append({"epoch": 0, "valid_ll": hist.best_valid_ll, "time_s": 0.0, "kind": "start"})
        hist.best_epoch = 0
    for epoch in range(1, cfg.epochs + 1):
        if epoch <= mb_epochs:
            order = torch.randperm(len(train), generator=gen)
            ll = 0.0
            # The step anneals linearly from `step` to step/10 over the stepwise epochs: large steps leave the
            # random start fast; small ones stop the parameters from jumping after each batch.
            lam = cfg.step * (1 - 0.9 * (epoch - 1) / max(mb_epochs - 1, 1))
            for s in range(0, len(train), cfg.batch_size):
                counts, part = expected_counts(circuit, train[order[s:s + cfg.batch_size]], cfg.batch_size)
                m_step(circuit, counts, cfg.alpha_leaf, cfg.alpha_sum, lam, var_prior)
                ll += part
            train_ll = ll / len(train)  # measured along the way, under the changing parameters
        else:
            counts, ll = expected_counts(circuit, train, 2048)
            m_step(circuit, counts, cfg.alpha_leaf, cfg.alpha_sum, 1.0, var_prior)
            train_ll = ll / len(train)  # of the parameters before this step
        row = {"epoch": epoch, "train_ll": train_ll, "time_s": round(time.perf_counter() - t0, 3),
               "kind": "stepwise" if epoch <= mb_epochs else "full"}
        if valid is not None:
            row["valid_ll"] = mean_ll(circuit, valid)
            if row["valid_ll"] > hist.best_valid_ll:
                hist.best_valid_ll, hist.best_epoch, bad = row["valid_ll"], epoch, 0
                best_state = copy.deepcopy(circuit.state_dict())
            else:
                bad += 1
        hist.rows.append(row)
        if progress:
            progress(row)
        if cfg.patience is not None and bad >= cfg.patience and epoch > mb_epochs:
            break  # (stepwise epochs are annealed to the end; patience counts in the full-batch phase)
        if cfg.max_time is not None and time.perf_counter() - t0 >= cfg.max_time:
            break
    if valid is not None:
        circuit.load_state_dict(best_state)
    return hist

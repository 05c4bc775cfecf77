"""Backpropagation against finite differences: the lecture's "compute derivatives via chain rule", checked on
the project's MLP (the `mlp` model) and a batch of the embedded digits, in float64."""

from __future__ import annotations

from deeplearn import report_plots as plots
from deeplearn.report import FAILS, HOLDS, Outcome


def gradient_check(samples: int = 200, batch: int = 64, eps: float = 1e-6, seed: int = 0) -> dict:
    """Backprop's gradient of the cross-entropy against central differences at `samples` random parameters.

    Returns:
        {"backprop": [...], "finite_difference": [...], "max_abs_error", "max_rel_error", "parameters"}
    """
    import torch
    from sklearn.datasets import load_digits

    from deeplearn.models import build_model, count_parameters

    torch.manual_seed(seed)
    digits = load_digits()
    x = torch.tensor(digits.data[:batch] / 16.0, dtype=torch.float64).view(batch, 1, 8, 8)
    y = torch.tensor(digits.target[:batch])
    model = build_model({"model": "mlp", "hidden": [32, 32], "activation": "tanh"}, 10, (1, 8, 8)).double()
    params = [p for p in model.parameters()]

    def loss() -> torch.Tensor:
        return torch.nn.functional.cross_entropy(model(x), y)

    grads = torch.autograd.grad(loss(), params)
    flat = torch.cat([g.reshape(-1) for g in grads])
    n = flat.numel()
    picks = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:samples].tolist()
    offsets = [0]
    for p in params:
        offsets.append(offsets[-1] + p.numel())
    numeric = []
    with torch.no_grad():
        for i in picks:
            k = next(j for j in range(len(params)) if offsets[j] <= i < offsets[j + 1])
            view = params[k].view(-1)
            old = view[i - offsets[k]].item()
            view[i - offsets[k]] = old + eps
            up = loss().item()
            view[i - offsets[k]] = old - eps
            down = loss().item()
            view[i - offsets[k]] = old
            numeric.append((up - down) / (2 * eps))
    analytic = [flat[i].item() for i in picks]
    abs_err = [abs(a - b) for a, b in zip(analytic, numeric)]
    rel = [e / max(abs(a), abs(b), 1e-8) for e, a, b in zip(abs_err, analytic, numeric)]
    return {"backprop": analytic, "finite_difference": numeric, "max_abs_error": max(abs_err),
            "max_rel_error": max(rel), "parameters": count_parameters(model), "checked": len(picks)}


def run_autodiff(ctx) -> Outcome:
    import torch

    ctx.note_command("python -c 'from deeplearn.supervised.autodiff import gradient_check; print(gradient_check())'")
    r = gradient_check()
    fig = plots.scatter(r["finite_difference"], r["backprop"], ctx.path("gradients.png"),
                        xlabel="central finite difference", ylabel="backpropagation (torch autograd)",
                        title=f"{r['checked']} of {r['parameters']:,} gradient entries, MLP 32-32 tanh")
    numbers = {k: r[k] for k in ("max_abs_error", "max_rel_error", "parameters", "checked")}
    numbers["torch"] = torch.__version__
    holds = r["max_rel_error"] < 1e-5
    reason = (f"largest relative difference between torch's backpropagated gradient and central differences "
              f"(eps 1e-6, float64) over {r['checked']} random parameters: {r['max_rel_error']:.2e} "
              f"(absolute {r['max_abs_error']:.2e}).")
    return Outcome(HOLDS if holds else FAILS, reason, numbers=numbers,
                   figures=[ctx.figure(fig, "Each point: one parameter's gradient by backprop against finite "
                                            "differences", numbers=numbers)])

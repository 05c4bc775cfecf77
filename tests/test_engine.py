"""The engine: the SGD update by hand, gradients against finite differences, exact resume, safe checkpoints."""

import json
import signal
import subprocess
import sys
import textwrap

import pytest
import torch
from torch import nn

from deeplearn.engine import Runtime, Task, TensorSource, TrainConfig, TrainingError, fit, setup
from deeplearn.engine import checkpoint as ckpt
from deeplearn.supervised.mlp import MLP
from deeplearn.supervised.task import build_task


class Regression(Task):
    """Least squares on a fixed data set, for hand-checkable updates."""

    def __init__(self, model, x, y, batch_size):
        self.model, self.config, self.meta = model, {}, {}
        self.train = TensorSource((x, y), batch_size, shuffle=True, seed=0)
        self.evals = {}

    def loss(self, output, batch):
        return ((output - batch[1]) ** 2).mean()


def test_one_sgd_step_equals_m_minus_alpha_g(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(16, 3), torch.randn(16, 1)
    model = nn.Linear(3, 1)
    w0, b0 = model.weight.detach().clone(), model.bias.detach().clone()
    c = TrainConfig(steps=1, batch_size=16, optimizer="sgd", lr=0.1, momentum=0.0, progress="none")
    fit(Regression(model, x, y, 16), c, Runtime(torch.device("cpu")), tmp_path / "run")
    # The lecture's update, by hand: loss = mean((w.x + b - y)^2); g = dloss/dM; M <- M - alpha * g.
    r = x @ w0.T + b0 - y
    g_w = 2 * (r * x).mean(0, keepdim=True)
    g_b = 2 * r.mean(0)
    torch.testing.assert_close(model.weight.detach(), w0 - 0.1 * g_w)
    torch.testing.assert_close(model.bias.detach(), b0 - 0.1 * g_b)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_mlp_gradients_equal_finite_differences(activation):
    torch.manual_seed(1)
    net = MLP(6, [5, 4], 3, activation).double()
    x, y = torch.randn(7, 6, dtype=torch.float64), torch.randint(0, 3, (7,))

    def loss():
        return nn.functional.cross_entropy(net(x), y)

    loss().backward()
    eps = 1e-6
    for p in net.parameters():
        for i in torch.randperm(p.numel())[:5]:
            flat = p.data.view(-1)
            old = flat[i].item()
            flat[i] = old + eps
            up = loss().item()
            flat[i] = old - eps
            down = loss().item()
            flat[i] = old
            assert abs((up - down) / (2 * eps) - p.grad.view(-1)[i].item()) < 1e-6


def _digits_run(tmp_path, name, steps=60, on_step_end=None, resume=False):
    c = TrainConfig(steps=steps, batch_size=32, lr=0.05, schedule="cosine", warmup_steps=5, eval_every=20,
                    checkpoint_every=10, progress="none", deterministic=True)
    rt = setup(c)
    task = build_task({"model": "mlp", "data": "digits", "hidden": [32], "dropout": 0.2, "augment": "affine"},
                      rt, c.batch_size, c.seed)
    fit(task, c, rt, tmp_path / name, resume=resume, on_step_end=on_step_end)
    return task.model.state_dict()


class Crash(Exception):
    pass


def test_resume_after_a_crash_equals_the_uninterrupted_run(tmp_path):
    straight = _digits_run(tmp_path, "straight")

    def crash(step):
        if step == 37:  # between the checkpoints of steps 30 and 40
            raise Crash()

    with pytest.raises(Crash):
        _digits_run(tmp_path, "crashed", on_step_end=crash)
    assert ckpt.load(tmp_path / "crashed/checkpoints/last.pt")["state"]["step"] == 30
    resumed = _digits_run(tmp_path, "crashed", resume=True)
    for k in straight:
        assert torch.equal(straight[k], resumed[k]), k  # bit for bit
    rows = lambda d: [l for l in (tmp_path / d / "metrics.jsonl").read_text().splitlines()]  # noqa: E731
    strip = lambda r: {k: v for k, v in __import__("json").loads(r).items() if k != "samples_per_s"}  # noqa
    assert [strip(r) for r in rows("straight")] == [strip(r) for r in rows("crashed")]


def test_a_kill_during_a_checkpoint_write_leaves_the_previous_one(tmp_path):
    path = tmp_path / "last.pt"
    ckpt.save_atomic({"step": 1, "w": torch.ones(3)}, path)
    # A child process starts writing a large checkpoint and is SIGKILLed in the middle of the write.
    child = textwrap.dedent(f"""
        import os, signal, torch
        from deeplearn.engine import checkpoint as ckpt
        real_save = torch.save
        def dying_save(obj, f):
            f.write(b"PK partial bytes of a torn checkpoint")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        torch.save = dying_save
        ckpt.save_atomic({{"step": 2, "w": torch.zeros(10**6)}}, {str(path)!r})
    """)
    proc = subprocess.run([sys.executable, "-c", child])
    assert proc.returncode == -signal.SIGKILL
    state = ckpt.load(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))


def test_a_corrupt_checkpoint_is_named(tmp_path):
    bad = tmp_path / "last.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ckpt.CheckpointError, match="last.pt"):
        ckpt.load(bad)


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_checkpoint(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    model = nn.Linear(3, 1)

    def poison(step):
        if step == 25:
            with torch.no_grad():
                model.weight.fill_(float("nan"))

    c = TrainConfig(steps=50, batch_size=16, lr=0.01, eval_every=10, log_every=5, progress="none")
    with pytest.raises(TrainingError, match=r"loss became nan between steps 26 and 30.*last\.pt \(step 20\)"):
        fit(Regression(model, x, y, 16), c, Runtime(torch.device("cpu")), tmp_path / "run", on_step_end=poison)
    saved = ckpt.load(tmp_path / "run/checkpoints/last.pt")
    assert saved["state"]["step"] == 20 and torch.isfinite(saved["model"]["weight"]).all()


def test_non_finite_weights_are_never_checkpointed(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(64, 3), torch.randn(64, 1)
    model = nn.Linear(3, 1)

    def poison(step):
        if step == 30:  # after the update of a step whose loss was still finite, right before its checkpoint
            with torch.no_grad():
                model.bias.fill_(float("inf"))

    c = TrainConfig(steps=50, batch_size=16, lr=0.01, eval_every=10, log_every=5, progress="none")
    with pytest.raises(TrainingError, match="bias became non-finite at step 30"):
        fit(Regression(model, x, y, 16), c, Runtime(torch.device("cpu")), tmp_path / "run", on_step_end=poison)
    assert ckpt.load(tmp_path / "run/checkpoints/last.pt")["state"]["step"] == 20


def test_early_stopping_and_time_budget(tmp_path):
    c = TrainConfig(epochs=200, batch_size=32, lr=0.05, patience=2, monitor="val_loss", progress="none")
    rt = setup(c)
    task = build_task({"model": "mlp", "data": "digits", "hidden": [64]}, rt, c.batch_size, c.seed)
    s = fit(task, c, rt, tmp_path / "es")
    assert s["status"] == "early_stopped" and s["epochs"] < 200
    c = TrainConfig(max_time=0.5, batch_size=32, progress="none")
    task = build_task({"model": "mlp", "data": "digits", "hidden": [64]}, rt, c.batch_size, c.seed)
    s = fit(task, c, rt, tmp_path / "tb")
    assert s["status"] == "time_budget" and 0.5 <= s["train_time_s"] < 5
    rows = [json.loads(line) for line in (tmp_path / "tb" / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "val_loss" in r]  # the budget's last steps are evaluated too (they may be best)
    assert evals and evals[-1]["step"] == s["steps"]


def test_a_schedule_longer_than_the_time_budget_is_warned_about(tmp_path, capsys):
    """Schedules are laid out over steps; a --max-time budget that will stop long before their end is named."""
    c = TrainConfig(epochs=500, max_time=0.5, batch_size=32, schedule="cosine", log_every=5, progress="lines")
    rt = setup(c)
    task = build_task({"model": "mlp", "data": "digits", "hidden": [64]}, rt, c.batch_size, c.seed)
    fit(task, c, rt, tmp_path / "warn")
    out = capsys.readouterr().out
    assert "the cosine schedule spans" in out and "pass --steps" in out
    c = TrainConfig(epochs=500, max_time=0.5, batch_size=32, schedule="constant", log_every=5, progress="lines")
    fit(build_task({"model": "mlp", "data": "digits", "hidden": [64]}, rt, c.batch_size, c.seed), c, rt,
        tmp_path / "quiet")
    assert "schedule spans" not in capsys.readouterr().out  # a constant rate has nothing to anneal


def test_native_bf16_is_read_off_the_cpu_flags():
    from deeplearn.engine.runtime import cpu_has_native_bf16
    assert not cpu_has_native_bf16({"avx2", "fma", "avx512f"})  # AVX-512 without its bf16 extension: emulated
    assert cpu_has_native_bf16({"avx2", "avx512f", "avx512_bf16"}) and cpu_has_native_bf16({"amx_bf16"})


@pytest.mark.parametrize("native", [False, True])
def test_bf16_autocast_on_a_cpu_that_emulates_it_is_warned_about(tmp_path, capsys, monkeypatch, native):
    """--amp bf16 is 16-18x slower than float32 where the CPU has no bf16 arithmetic; the run says so, once."""
    from deeplearn.engine import trainer
    monkeypatch.setattr(trainer, "cpu_has_native_bf16", lambda: native)
    c = TrainConfig(steps=3, batch_size=32, amp="bf16", progress="none")
    rt = setup(c)
    fit(build_task({"model": "mlp", "data": "digits", "hidden": [16]}, rt, c.batch_size, c.seed), c, rt,
        tmp_path / "bf16")
    out = capsys.readouterr().out
    assert ("emulates bfloat16" in out and "--amp none" in out) != native


def test_a_second_run_into_the_same_directory_is_refused(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(32, 3), torch.randn(32, 1)
    c = TrainConfig(steps=2, batch_size=16, progress="none")
    fit(Regression(nn.Linear(3, 1), x, y, 16), c, Runtime(torch.device("cpu")), tmp_path / "run")
    with pytest.raises(TrainingError, match="already holds a run"):
        fit(Regression(nn.Linear(3, 1), x, y, 16), c, Runtime(torch.device("cpu")), tmp_path / "run")


@pytest.mark.parametrize("schedule", ["constant", "step", "cosine", "onecycle"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_and_schedule_lowers_the_loss(tmp_path, optimizer, schedule):
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]]) + 0.1
    model = nn.Linear(4, 1)
    lr = 0.05 if optimizer == "sgd" else 0.2
    c = TrainConfig(steps=150, batch_size=32, optimizer=optimizer, lr=lr, schedule=schedule, lr_step_size=50,
                    lr_gamma=0.5, warmup_steps=10 if schedule == "cosine" else 0, clip_grad=10.0, progress="none")
    before = ((model(x) - y) ** 2).mean().item()
    fit(Regression(model, x, y, 32), c, Runtime(torch.device("cpu")), tmp_path / "run")
    after = ((model(x) - y) ** 2).mean().item()
    assert after < 0.1 * before


@pytest.mark.parametrize("n, batch, world", [(1437, 32, 2), (100, 3, 3), (7, 1, 2), (10, 4, 1)])
def test_replica_shards_make_up_the_single_process_batches(n, batch, world):
    from deeplearn.engine.data import count_batches, epoch_indices

    single = epoch_indices(n, batch * world, shuffle=True, seed=5, epoch=3, rank=0, world=1,
                           drop_last=True)
    shards = [epoch_indices(n, batch, shuffle=True, seed=5, epoch=3, rank=r, world=world, drop_last=True)
              for r in range(world)]
    assert all(len(s) == count_batches(n, batch, True, r, world, True) for r, s in enumerate(shards))
    for i, global_batch in enumerate(single[:len(shards[0])]):
        assert sorted(torch.cat([s[i] for s in shards]).tolist()) == sorted(global_batch.tolist())
    every = torch.cat([b for r in range(world)  # evaluation: every sample exactly once over the replicas
                       for b in epoch_indices(n, batch, shuffle=False, seed=0, epoch=0, rank=r, world=world,
                                              drop_last=False)])
    assert sorted(every.tolist()) == list(range(n))

"""The training loop: the lecture's "Sketch of Deep Artificial Neural Network Training", step by step.

    for each step i:
        Sample batch B_i of training examples
        Compute network output N(v) for each v in B_i
        Compute loss(N(v))
        Backpropagation: gradients g of the loss w.r.t. M = (W_1, b_1, ..., W_n, b_n)
        Update M (M - alpha*g for plain SGD; momentum / Adam / RMSprop otherwise)

Around it: evaluation every N steps, checkpoints (last/best) with exact resume, early stopping, budgets in
epochs, steps or seconds, autocast on CUDA, and data-parallel replicas (DistributedDataParallel averages g
over the replicas during backward; metrics are summed over replicas before they are logged).
"""

from __future__ import annotations

import contextlib
import math
import platform
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from deeplearn.engine import checkpoint as ckpt
from deeplearn.engine.config import TrainConfig
from deeplearn.engine.logger import RunLogger, plot_curves, write_json
from deeplearn.engine.optim import build_optimizer, build_scheduler
from deeplearn.engine.runtime import Runtime, rng_state, set_rng_state
from deeplearn.engine.task import Task, to_device


class TrainingError(Exception):
    """Training cannot go on (e.g. the loss became NaN); the message says where the last good checkpoint is."""


@dataclass
class State:
    step: int = 0  # updates done; with the seed it fixes the position in the data order
    best_value: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    train_time: float = 0.0  # seconds spent in training steps (what --max-time counts)
    samples: int = 0  # training samples seen, summed over replicas
    window_loss: float = 0.0  # the train-loss sum since the last log row (so a resumed log row is the same)
    window_steps: int = 0
    last_eval: dict = field(default_factory=dict)


def total_steps_of(c: TrainConfig, steps_per_epoch: int) -> int:
    if c.steps is not None:
        return c.steps if c.epochs is None else min(c.steps, math.ceil(c.epochs * steps_per_epoch))
    if c.epochs is not None:
        return math.ceil(c.epochs * steps_per_epoch)
    return 10**12 if c.max_time is not None else steps_per_epoch  # a pure time budget, or one epoch


def autocast_for(c: TrainConfig, device: torch.device):
    if c.amp == "none":
        return None
    if device.type != "cuda":
        raise ValueError(f"--amp {c.amp} is for CUDA; this run is on {device.type}")
    dtype = torch.bfloat16 if c.amp == "bf16" else torch.float16
    return lambda: torch.autocast("cuda", dtype=dtype)


class _StopFlag:
    """SIGINT/SIGTERM ask the loop to stop after the current step (it then saves a checkpoint).

    Among replicas, SIGTERM comes from torchrun stopping a failed group: a replica may be blocked in a collective
    with a dead peer, so it stops at once and the restart resumes from the last periodic checkpoint."""

    def __init__(self, distributed: bool = False):
        self.requested = False
        self.distributed = distributed
        self._old = {}

    def __enter__(self):
        with contextlib.suppress(ValueError):  # only the main thread may install handlers
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested or (self.distributed and signum == signal.SIGTERM):  # stop now
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *a):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


def fit(task: Task, c: TrainConfig, rt: Runtime, run_dir: str | Path, resume: bool = False,
        on_step_end=None, on_eval=None) -> dict:
    """Train `task` with config `c` in `run_dir`; returns the summary (also written to summary.json).

    Hooks: `on_step_end(step)` after every update; `on_eval(step, metrics)` after each validation, once its
    row is logged and its checkpoints are written (an exception raised there, e.g. optuna.TrialPruned, ends
    the run with a consistent run directory)."""
    run_dir = Path(run_dir)
    last_path, best_path = run_dir / "checkpoints" / "last.pt", run_dir / "checkpoints" / "best.pt"
    device = rt.device

    # --- the model and its replicas ---
    model = task.model.to(device)
    if c.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)  # NHWC: faster convolutions on tensor cores
    if rt.distributed and c.sync_bn:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    net: nn.Module = model
    if rt.distributed:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                      gradient_as_bucket_view=True)  # gradients live in the buckets: no copy
    if c.compile:
        net = torch.compile(net)
    optimizer = build_optimizer(model, c)
    steps_per_epoch = task.train.batches_per_epoch()
    total = total_steps_of(c, steps_per_epoch)
    scheduler = build_scheduler(optimizer, c, total if total < 10**12 else max(steps_per_epoch, 1) * 100)
    scaler = torch.amp.GradScaler("cuda") if c.amp == "fp16" else None
    lr_changes = c.schedule != "constant" or c.warmup_steps > 0  # else skip the scheduler's per-step cost
    warned_schedule = False
    autocast = autocast_for(c, device)
    eval_every = c.eval_every or steps_per_epoch
    mode = c.resolved_mode()

    # --- resume: restore everything, so the continuation equals an uninterrupted run ---
    st = State()
    if resume:
        saved = ckpt.load(last_path)  # to the CPU: RNG states must stay there; load_state_dict moves the rest
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        if scaler is not None and saved.get("scaler"):
            scaler.load_state_dict(saved["scaler"])
        task.load_state_dict(saved["task"])
        st = State(**saved["state"])
        set_rng_state(saved["rng"])
        if rt.rank > 0:  # the saved RNG state is replica 0's: give the others a stream of their own
            torch.manual_seed(c.seed + 1000 * rt.rank + st.step)

    def checkpoint_payload() -> dict:
        return {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict() if scaler else {},
                "task": task.state_dict(), "state": st.__dict__.copy(), "rng": rng_state(), "config": c.to_dict(),
                "task_config": task.config, "meta": task.meta}

    def save(path: Path) -> None:
        st.window_loss, st.window_steps = float(loss_sum), loss_count
        bad = [n for n, p in model.named_parameters() if not torch.isfinite(p).all()]
        if bad:  # never overwrite a good checkpoint with a broken model
            raise TrainingError(f"parameters {', '.join(bad[:3])} became non-finite at step {st.step}; nothing "
                                f"was saved; the last good checkpoint: {last_path}. Try a lower --lr or --clip-grad.")
        if rt.is_main:
            ckpt.save_atomic(checkpoint_payload(), path)

    def evaluate(split: str) -> tuple[dict, dict]:
        net.eval()
        sums = rt.all_reduce_sum(task.evaluate(net, task.evals[split], device, autocast))
        net.train()
        return {f"{split}_{k}": v for k, v in task.summarize(sums).items()}, sums

    if not resume and last_path.exists():
        raise TrainingError(f"{run_dir} already holds a run; use --resume {run_dir} or another --out")
    log = RunLogger(run_dir, rt.is_main, total if total < 10**12 else 0, c.progress, c.tensorboard, st.step)
    if rt.is_main:
        write_json(run_dir / "config.json", {"train": c.to_dict(), "task": task.config, "meta": task.meta})
    status = "completed"
    loss_sum = torch.full((), st.window_loss, device=device)  # summed on the device: no sync per step
    loss_count, window_start, window_samples = st.window_steps, time.perf_counter(), 0
    start_wall = time.perf_counter()
    net.train()

    with _StopFlag(rt.distributed) as stop:
        while st.step < total and status == "completed":
            epoch, position = divmod(st.step, steps_per_epoch)
            tick = time.perf_counter()  # training time counts fetching batches too, not evaluation
            for batch in task.train.iter_epoch(epoch, start=position):  # Sample batch B_i
                batch = to_device(batch, device)
                if c.channels_last and device.type == "cuda" and batch[0].ndim == 4:
                    batch = (batch[0].contiguous(memory_format=torch.channels_last),) + tuple(batch[1:])
                with autocast() if autocast else contextlib.nullcontext():
                    output = task.forward(net, batch)  # network output N(v) for each v in B_i
                    loss = task.loss(output, batch)  # loss(N(v)), averaged over B_i
                optimizer.zero_grad(set_to_none=True)
                if scaler is None:
                    loss.backward()  # backpropagation: g = dloss/dM (averaged over replicas by DDP)
                    if c.clip_grad:
                        nn.utils.clip_grad_norm_(model.parameters(), c.clip_grad)
                    optimizer.step()  # update M (M - alpha*g for plain SGD)
                else:  # fp16: the loss is scaled so that small gradients do not underflow
                    scaler.scale(loss).backward()
                    if c.clip_grad:
                        scaler.unscale_(optimizer)
                        nn.utils.clip_grad_norm_(model.parameters(), c.clip_grad)
                    scaler.step(optimizer)
                    scaler.update()
                if lr_changes:
                    scheduler.step()
                st.step += 1
                n_batch = len(batch[1]) * rt.world_size
                st.samples += n_batch
                window_samples += n_batch
                loss_sum += loss.detach().float()
                loss_count += 1
                st.train_time += time.perf_counter() - tick
                if on_step_end is not None:
                    on_step_end(st.step)

                # A time budget ends the run with an evaluation too, so its last steps can still be the best.
                # (Replicas agree on stopping through a collective, so they look at the clock only at the steps
                # where all of them do.)
                out_of_time = False
                if c.max_time is not None and (not rt.distributed or st.step % c.log_every == 0
                                               or st.step % eval_every == 0):
                    out_of_time = rt.any(st.train_time >= c.max_time)
                do_eval = st.step % eval_every == 0 or st.step >= total or out_of_time
                if st.step % c.log_every == 0 or do_eval:
                    mean = rt.all_reduce_sum({"l": loss_sum / max(loss_count, 1)})["l"].item() / rt.world_size
                    if not math.isfinite(mean):
                        last = f"{last_path} (step {ckpt.load(last_path)['state']['step']})" \
                            if last_path.exists() else "none (no checkpoint was written yet)"
                        raise TrainingError(f"the training loss became {mean} between steps "
                                            f"{st.step - loss_count + 1} and {st.step}; nothing was saved after "
                                            f"that; the last good checkpoint: {last}. Try a lower --lr or "
                                            f"--clip-grad.")
                    now = time.perf_counter()
                    row = {"step": st.step, "epoch": round(st.step / steps_per_epoch, 4), "train_loss": mean,
                           "lr": optimizer.param_groups[0]["lr"],
                           "samples_per_s": window_samples / max(now - window_start, 1e-9)}
                    loss_sum.zero_()
                    loss_count, window_start, window_samples = 0, now, 0
                    if do_eval and "val" in task.evals:
                        metrics, _ = evaluate("val")
                        row.update(metrics)
                        st.last_eval = metrics
                        value = metrics.get(c.monitor)
                        improved = value is not None and (
                            st.best_value is None or (value < st.best_value if mode == "min"
                                                      else value > st.best_value))
                        if improved:
                            st.best_value, st.best_step, st.evals_without_improvement = value, st.step, 0
                        else:
                            st.evals_without_improvement += 1
                        if improved:
                            save(best_path)
                        if c.patience is not None and st.evals_without_improvement >= c.patience:
                            status = "early_stopped"
                    log.log(row, evaluation=do_eval)
                    if lr_changes and not warned_schedule and c.max_time is not None and total < 10**12 \
                            and st.step >= 2 * c.log_every:
                        warned_schedule = True
                        reach = int(st.step * c.max_time / max(st.train_time, 1e-9))
                        if reach < 0.8 * total:  # the schedule is laid out over steps, the budget is in seconds
                            log.message(f"warning: the {c.schedule} schedule spans {total} steps, but at this "
                                        f"speed --max-time {c.max_time:g} stops near step {reach}, before the "
                                        f"learning rate anneals; pass --steps {reach} to fit it to the budget")
                    window_start = time.perf_counter()  # evaluation time is not training throughput
                if do_eval or (c.checkpoint_every and st.step % c.checkpoint_every == 0):
                    save(last_path)
                if do_eval and on_eval is not None and st.last_eval:
                    on_eval(st.step, st.last_eval)
                if out_of_time:
                    status = "time_budget"
                # Replicas agree on stopping (a collective), so they decide only at log steps.
                if not rt.distributed or st.step % c.log_every == 0 or do_eval:
                    if rt.any(stop.requested):
                        status = "interrupted"
                if st.step >= total or status != "completed":
                    break
                tick = time.perf_counter()
        save(last_path)

    # --- the end: test the chosen weights, write the summary and the curves ---
    summary = {"status": status, "steps": st.step, "epochs": round(st.step / steps_per_epoch, 4),
               "train_time_s": round(st.train_time, 3), "wall_time_s": round(time.perf_counter() - start_wall, 3),
               "samples": st.samples, "samples_per_s": st.samples / max(st.train_time, 1e-9),
               "final": st.last_eval, "best": {"step": st.best_step, c.monitor: st.best_value}}
    if status != "interrupted":
        if "val" in task.evals and not st.last_eval:
            st.last_eval = summary["final"] = evaluate("val")[0]
        if "test" in task.evals:
            if c.test_on == "best" and best_path.exists():
                model.load_state_dict(ckpt.load(best_path, map_location=device)["model"])
            metrics, sums = evaluate("test")
            summary["test"] = metrics
            summary["test_weights"] = "best" if c.test_on == "best" and best_path.exists() else "last"
            if rt.is_main:
                task.report(sums, "test", run_dir)
    summary.update(environment(rt, c))
    if rt.is_main:
        write_json(run_dir / "summary.json", summary)
        plot_curves(run_dir / "metrics.jsonl", run_dir / "curves.png")
        if "test" in summary:
            log.message(" ".join(f"{k} {v:.4f}" for k, v in summary["test"].items() if isinstance(v, float)))
    log.close()
    return summary


def environment(rt: Runtime, c: TrainConfig) -> dict:
    dev = rt.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    return {"device": str(dev), "device_name": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "world_size": rt.world_size, "python": platform.python_version()}

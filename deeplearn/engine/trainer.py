"""The training loop: the lecture's "Sketch of Deep Artificial Neural Network Training", step by step.

    for each step i:
        Sample batch B_i of training examples
        Compute network output N(v) for each v in B_i
        Compute loss(N(v))
        Backpropagation: gradients g of the loss w.r.t. M = (W_1, b_1, ..., W_n, b_n)
        Update M (M - alpha*g for plain SGD; momentum / Adam / RMSprop otherwise)

`fit` is that loop; `Trainer` holds its phases as named methods: wrap the model (`__init__`), `restore`,
`train_step` (the five steps above), `after_step` (log, evaluate, checkpoint, decide to stop) and `finish`
(test the chosen weights, write the summary). Around them: budgets in epochs, steps or seconds (an LR schedule
laid over seconds when the budget is time alone), autocast, and data-parallel replicas (DistributedDataParallel
averages g over the replicas during backward; metrics are summed over replicas before they are logged).
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
from deeplearn.engine.lookahead import Lookahead
from deeplearn.engine.optim import LRPlan, build_optimizer
from deeplearn.engine.rundir import RunDir
from deeplearn.engine.runtime import Runtime, cpu_has_native_bf16, rng_state, set_rng_state
from deeplearn.engine.task import Task, to_device
from deeplearn.paths import DataError

UNBOUNDED = 10**12  # the step count of a run whose budget is time alone


class TrainingError(Exception):
    """Training cannot go on (e.g. the loss became NaN); the message says where the last good checkpoint is."""


class StopTraining(Exception):
    """Raised by a hook (on_step_end / on_eval) to end the run early with a proper summary (status "stopped")."""


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
    return UNBOUNDED if c.max_time is not None else steps_per_epoch  # a pure time budget, or one epoch


def autocast_for(c: TrainConfig, device: torch.device):
    if c.amp == "none":
        return None
    if device.type == "cpu" and c.amp == "bf16":
        return lambda: torch.autocast("cpu", dtype=torch.bfloat16)
    if device.type != "cuda":
        raise DataError(f"--amp {c.amp} needs CUDA (on {device.type} only --amp bf16 runs)")
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
        on_step_end=None, on_eval=None, system: str | None = None) -> dict:
    """Train `task` with config `c` in `run_dir`; returns the summary (also written to summary.json).

    Hooks: `on_step_end(step)` after every update; `on_eval(step, metrics)` after each validation, once its
    row is logged and its checkpoints are written. `system` names the system in config.json (the run sequence
    gives it; library callers may leave it out). `StopTraining` raised in a hook ends the run with a summary;
    any other exception (e.g. optuna.TrialPruned) ends it with a consistent run directory."""
    t = Trainer(task, c, rt, RunDir(run_dir), system)
    t.restore() if resume else t.start()
    with _StopFlag(rt.distributed) as stop:
        while t.running():
            for batch in t.batches():  # Sample batch B_i
                loss, n = t.train_step(batch)
                t.after_step(loss, n, stop, on_step_end, on_eval)
                if not t.running():
                    break
                t.tick = time.perf_counter()
        if t.lookahead is not None and t.status != "interrupted":
            t.lookahead.finish()  # the model takes the slow weights
        t.save(t.run.last_path)
    return t.finish()


class Trainer:
    """The state of one `fit`: the wrapped model, optimizer, LR plan, loop state and logger."""

    def __init__(self, task: Task, c: TrainConfig, rt: Runtime, run: RunDir, system: str | None):
        self.task, self.c, self.rt, self.run, self.system = task, c, rt, run, system
        self.device = device = rt.device
        self.model, self.net = self._wrap_model(task.model)
        self.optimizer = build_optimizer(self.model, c)
        self.steps_per_epoch = task.train.batches_per_epoch()
        self.total = total_steps_of(c, self.steps_per_epoch)
        self.plan = LRPlan(self.optimizer, c, self.total if self.total < UNBOUNDED else None)
        self.scaler = torch.amp.GradScaler("cuda") if c.amp == "fp16" else None
        self.autocast = autocast_for(c, device)
        self.eval_every = c.eval_every or self.steps_per_epoch
        self.mode = c.resolved_mode()
        self.unit, self.unit_per_sample = getattr(task, "throughput_unit", ("samples", 1))
        self.lookahead = Lookahead(self.model, c.lookahead_every, c.lookahead_decay) if c.lookahead_every else None
        self.progress = 0.0  # of the run: step / total, or training time / --max-time (what the LR plan uses)
        self.st = State()
        self.status = "completed"
        self.warned_schedule = False
        self.log: RunLogger | None = None

    # --- phase 1: the model and its replicas ---
    def _wrap_model(self, model: nn.Module) -> tuple[nn.Module, nn.Module]:
        c, rt, device = self.c, self.rt, self.device
        model = model.to(device)
        if c.channels_last:
            model = model.to(memory_format=torch.channels_last)  # NHWC: faster convolutions (oneDNN, tensor cores)
        if rt.distributed and c.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        net: nn.Module = model
        if rt.distributed:
            net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None,
                                          gradient_as_bucket_view=True)  # gradients live in the buckets: no copy
        if c.compile:
            net = torch.compile(net)
        return model, net

    # --- phase 2: start, or restore everything so the continuation equals an uninterrupted run ---
    def start(self) -> None:
        if self.run.last_path.exists():
            raise TrainingError(f"{self.run} already holds a run; use --resume {self.run} or another --out")
        self._open()

    def restore(self) -> None:
        saved = ckpt.load(self.run.last_path)  # to the CPU: RNG states stay there; load_state_dict moves the rest
        self.model.load_state_dict(saved["model"])
        self.optimizer.load_state_dict(saved["optimizer"])
        self.plan.load_state_dict(saved["scheduler"])
        if self.scaler is not None and saved.get("scaler"):
            self.scaler.load_state_dict(saved["scaler"])
        self.task.load_state_dict(saved["task"])
        for name, obj in self.task.checkpointed().items():
            obj.load_state_dict(saved.get("extra", {})[name])
        if self.lookahead is not None:
            self.lookahead.load_state_dict(saved["lookahead"])
        self.st = State(**saved["state"])
        set_rng_state(saved["rng"])
        if self.rt.rank > 0:  # the saved RNG state is replica 0's: give the others a stream of their own
            torch.manual_seed(self.c.seed + 1000 * self.rt.rank + self.st.step)
        self._open()

    def _open(self) -> None:
        if self.rt.is_main:
            ckpt.remove_stale_temporaries(self.run.checkpoints)
            self.run.write_config(self.system, self.c.to_dict(), self.task.config, self.task.meta,
                                  self._resumes())
        self.log = RunLogger(self.run.metrics_path, self.rt.is_main, self.total if self.total < UNBOUNDED else 0,
                             self.c.progress, self.c.tensorboard, self.st.step)
        self.loss_sum = torch.full((), self.st.window_loss, device=self.device)  # summed on the device: no sync
        self.loss_count, self.window_samples = self.st.window_steps, 0
        self.window_start = self.start_wall = self.last_save = time.perf_counter()
        self._warn_if_bf16_is_emulated()
        self.net.train()

    def _resumes(self) -> list[dict]:
        """config.json's history: at which step the run was resumed and which options changed then."""
        if self.st.step == 0 or not self.run.exists():
            return []
        old = self.run.config
        new = self.c.to_dict()
        changed = {k: [old["train"].get(k), v] for k, v in new.items() if old["train"].get(k) != v}
        return old.get("resumes", []) + [{"step": self.st.step, "changed": changed}]

    def running(self) -> bool:
        return self.st.step < self.total and self.status == "completed"

    def batches(self):
        epoch, position = divmod(self.st.step, self.steps_per_epoch)
        self.tick = time.perf_counter()  # training time counts fetching batches too, not evaluation
        for batch in self.task.train.iter_epoch(epoch, start=position):
            yield to_device(batch, self.device)

    # --- phase 3: one training step, the lecture's sketch ---
    def train_step(self, batch) -> tuple[torch.Tensor, int]:
        c = self.c
        if c.channels_last and batch[0].ndim == 4:
            batch = (batch[0].contiguous(memory_format=torch.channels_last),) + tuple(batch[1:])
        by_time = self._progress()
        self.progress = by_time if by_time is not None else self._step_progress()
        self.plan.before_step(self.st.step, by_time)
        with self.autocast() if self.autocast else contextlib.nullcontext():
            output = self.task.forward(self.net, batch)  # network output N(v) for each v in B_i
            loss = self.task.loss(output, batch)  # loss(N(v)), averaged over B_i
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is None:
            loss.backward()  # backpropagation: g = dloss/dM (averaged over replicas by DDP)
            if c.clip_grad:
                nn.utils.clip_grad_norm_(self.model.parameters(), c.clip_grad)
            self.optimizer.step()  # update M (M - alpha*g for plain SGD)
        else:  # fp16: the loss is scaled so that small gradients do not underflow
            self.scaler.scale(loss).backward()
            if c.clip_grad:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), c.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
        return loss, self.task.batch_size_of(batch)

    def _progress(self) -> float | None:
        """Training time / --max-time, agreed by all replicas, when the LR plan is laid over time; else None."""
        if not self.plan.by_time:
            return None
        elapsed = self.st.train_time + (time.perf_counter() - self.tick)
        if self.rt.distributed:  # every replica must use the same LR: take the slowest replica's clock
            elapsed = float(self.rt.all_reduce_max(elapsed))
        return elapsed / self.c.max_time

    def _step_progress(self) -> float:
        if self.total < UNBOUNDED:
            return self.st.step / self.total
        return self.st.train_time / self.c.max_time  # a time budget with a constant LR

    # --- phase 4: account, log, evaluate, checkpoint, decide whether to stop ---
    def after_step(self, loss: torch.Tensor, n: int, stop: _StopFlag, on_step_end, on_eval) -> None:
        c, st, rt = self.c, self.st, self.rt
        st.step += 1
        st.samples += n * rt.world_size
        self.window_samples += n * rt.world_size
        self.loss_sum += loss.detach().float()
        self.loss_count += 1
        st.train_time += time.perf_counter() - self.tick
        if self.lookahead is not None:
            self.lookahead.after_update(st.step, self.progress)
        try:
            if on_step_end is not None:
                on_step_end(st.step)
            # Replicas agree on stopping through a collective, so they look at the clock and the stop flag only
            # at the steps where all of them do (log and evaluation steps).
            sync_point = not rt.distributed or st.step % c.log_every == 0 or st.step % self.eval_every == 0
            out_of_time = c.max_time is not None and sync_point and rt.any(st.train_time >= c.max_time)
            # A time budget ends the run with an evaluation too, so its last steps can still be the best.
            do_eval = st.step % self.eval_every == 0 or st.step >= self.total or out_of_time
            if st.step % c.log_every == 0 or do_eval:
                self.log_row(do_eval)
            if do_eval or (c.checkpoint_every and st.step % c.checkpoint_every == 0) or self._save_due(sync_point):
                self.save(self.run.last_path)
            if do_eval and on_eval is not None and st.last_eval:
                on_eval(st.step, st.last_eval)
        except StopTraining as e:
            self.status = "stopped"
            self.stop_reason = str(e)
            return
        if out_of_time:
            self.status = "time_budget"
        if sync_point and rt.any(stop.requested):
            self.status = "interrupted"

    def _save_due(self, sync_point: bool) -> bool:
        """A checkpoint at least every --checkpoint-minutes of wall time, so that an early kill loses little."""
        if not self.c.checkpoint_minutes or not sync_point:
            return False
        return self.rt.any(time.perf_counter() - self.last_save >= 60 * self.c.checkpoint_minutes)

    def log_row(self, do_eval: bool) -> None:
        c, st = self.c, self.st
        mean = self.rt.all_reduce_sum({"l": self.loss_sum / max(self.loss_count, 1)})["l"].item() / self.rt.world_size
        if not math.isfinite(mean):
            last = f"{self.run.last_path} (step {ckpt.load(self.run.last_path)['state']['step']})" \
                if self.run.last_path.exists() else "none (no checkpoint was written yet)"
            raise TrainingError(f"the training loss became {mean} between steps {st.step - self.loss_count + 1} "
                                f"and {st.step}; nothing was saved after that; the last good checkpoint: {last}. "
                                f"Try a lower --lr or --clip-grad.")
        now = time.perf_counter()
        rate = self.window_samples / max(now - self.window_start, 1e-9)
        row = {"step": st.step, "epoch": round(st.step / self.steps_per_epoch, 4), "train_loss": mean,
               "lr": self.optimizer.param_groups[0]["lr"], "samples_per_s": rate}
        if self.unit != "samples":
            row[f"{self.unit}_per_s"] = rate * self.unit_per_sample
        self.loss_sum.zero_()
        self.loss_count, self.window_start, self.window_samples = 0, now, 0
        if do_eval and "val" in self.task.evals:
            row.update(self.validate())
        if do_eval and c.eval_test and "test" in self.task.evals:
            row.update(self.evaluate("test")[0], train_time_s=round(st.train_time, 3))
        self.log.log(row, evaluation=do_eval)
        self._warn_if_schedule_is_cut()
        self.window_start = time.perf_counter()  # evaluation time is not training throughput

    def validate(self) -> dict:
        st = self.st
        metrics, _ = self.evaluate("val")
        st.last_eval = metrics
        value = metrics.get(self.c.monitor)
        if value is None:
            raise DataError(f"--monitor {self.c.monitor}: this task's validation reports "
                            f"{', '.join(sorted(metrics))}")
        improved = st.best_value is None or (value < st.best_value if self.mode == "min" else value > st.best_value)
        if improved:
            st.best_value, st.best_step, st.evals_without_improvement = value, st.step, 0
            self.save(self.run.best_path)
        else:
            st.evals_without_improvement += 1
        if self.c.patience is not None and st.evals_without_improvement >= self.c.patience:
            self.status = "early_stopped"
        return metrics

    def _warn_if_bf16_is_emulated(self) -> None:
        if self.c.amp == "bf16" and self.device.type == "cpu" and not cpu_has_native_bf16():
            self.log.message("warning: --amp bf16 on a CPU without AVX512-BF16 or AMX: PyTorch emulates bfloat16 "
                             "here, which is slower than float32 (16-18x measured on an AVX2-only AMD EPYC, "
                             "benchmarks/amp_cpu.py); "
                             "pass --amp none on this machine", warning=True)

    def _warn_if_schedule_is_cut(self) -> None:
        c, st = self.c, self.st
        if self.warned_schedule or not self.plan.changes or c.max_time is None or self.total >= UNBOUNDED \
                or st.step < 2 * c.log_every:
            return
        self.warned_schedule = True
        reach = int(st.step * c.max_time / max(st.train_time, 1e-9))
        if reach < 0.8 * self.total:  # the schedule is laid out over steps, the budget is in seconds
            self.log.message(f"warning: the {c.schedule} schedule spans {self.total} steps, but at this speed "
                             f"--max-time {c.max_time:g} stops near step {reach}, before the learning rate "
                             f"anneals; pass --steps {reach}, or --max-time alone to lay the schedule over the time budget",
                             warning=True)

    def evaluate(self, split: str) -> tuple[dict, dict]:
        self.net.eval()
        sums = self.rt.reduce_metrics(self.task.evaluate(self.net, self.task.evals[split], self.device, self.autocast))
        self.net.train()
        return {f"{split}_{k}": v for k, v in self.task.summarize(sums).items()}, sums

    def save(self, path: Path) -> None:
        st = self.st
        st.window_loss, st.window_steps = float(self.loss_sum), self.loss_count
        bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:  # never overwrite a good checkpoint with a broken model
            raise TrainingError(f"parameters {', '.join(bad[:3])} became non-finite at step {st.step}; nothing "
                                f"was saved; the last good checkpoint: {self.run.last_path}. Try a lower --lr or "
                                f"--clip-grad.")
        if self.rt.is_main:
            ckpt.save_atomic(self.checkpoint_payload(), path)
        self.last_save = time.perf_counter()

    def checkpoint_payload(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.plan.state_dict(), "scaler": self.scaler.state_dict() if self.scaler else {},
                "task": self.task.state_dict(),
                "extra": {k: v.state_dict() for k, v in self.task.checkpointed().items()},
                "lookahead": self.lookahead.state_dict() if self.lookahead is not None else {},
                "state": self.st.__dict__.copy(), "rng": rng_state(), "config": self.c.to_dict(),
                "task_config": self.task.config, "meta": self.task.meta}

    # --- phase 5: test the chosen weights, write the summary and the curves ---
    def finish(self) -> dict:
        st, c, run = self.st, self.c, self.run
        summary = {"status": self.status, "steps": st.step, "epochs": round(st.step / self.steps_per_epoch, 4),
                   "train_time_s": round(st.train_time, 3),
                   "wall_time_s": round(time.perf_counter() - self.start_wall, 3),
                   "samples": st.samples, "samples_per_s": st.samples / max(st.train_time, 1e-9),
                   "final": st.last_eval, "best": {"step": st.best_step, c.monitor: st.best_value}}
        if self.unit != "samples":
            summary[f"{self.unit}_per_s"] = summary["samples_per_s"] * self.unit_per_sample
        if self.status == "stopped":
            summary["reason"] = self.stop_reason
        if self.status != "interrupted":
            if "val" in self.task.evals and not st.last_eval:
                st.last_eval = summary["final"] = self.evaluate("val")[0]
            if "test" in self.task.evals:
                use_best = c.test_on == "best" and run.best_path.exists()
                if use_best:
                    self.model.load_state_dict(ckpt.load(run.best_path, map_location=self.device)["model"])
                metrics, sums = self.evaluate("test")
                summary["test"] = metrics
                summary["test_weights"] = "best" if use_best else "last"
                if self.rt.is_main:
                    self.task.report(sums, "test", run.path)
        summary.update(environment(self.rt, c))
        if self.rt.is_main:
            write_json(run.summary_path, summary)
            plot_curves(run.metrics_path, run.curves_path)
            if "test" in summary:
                self.log.message(" ".join(f"{k} {v:.4f}" for k, v in summary["test"].items() if isinstance(v, float)))
        self.log.close()
        return summary


def environment(rt: Runtime, c: TrainConfig) -> dict:
    dev = rt.device
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else platform.processor() or platform.machine()
    return {"device": str(dev), "device_name": name, "torch": torch.__version__, "threads": torch.get_num_threads(),
            "world_size": rt.world_size, "python": platform.python_version()}

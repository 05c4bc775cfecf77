"""The process a run lives in: device, threads, seeds, and its place among data-parallel replicas.

Under `torchrun` the environment names this process's RANK / WORLD_SIZE / LOCAL_RANK; `setup` then joins the
process group (gloo on CPU, nccl on CUDA). Without torchrun it is replica 0 of 1 and no process group exists.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import torch
import torch.distributed as dist

from deeplearn.engine.config import TrainConfig
from deeplearn.paths import DataError

_NATIVE_BF16_FLAGS = {"avx512_bf16", "amx_bf16"}


def cpu_flags() -> set[str]:
    """The CPU's feature flags as Linux reports them (/proc/cpuinfo); empty where that file is not there."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_has_native_bf16(flags: set[str] | None = None) -> bool:
    """True where the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX). Elsewhere (AVX2-only CPUs such as
    AMD Zen 3) PyTorch emulates bfloat16 and `--amp bf16` is slower than float32, not faster."""
    return bool((cpu_flags() if flags is None else flags) & _NATIVE_BF16_FLAGS)


@dataclass
class Runtime:
    device: torch.device
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True under torchrun (even with one replica: then DDP runs, so its overhead can be measured)."""
        return dist.is_available() and dist.is_initialized()

    def per_rank_batch(self, global_batch: int) -> int:
        if global_batch % self.world_size:
            raise DataError(f"--batch-size {global_batch} is not divisible by the {self.world_size} replicas")
        return global_batch // self.world_size

    def all_reduce_sum(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Sum each tensor over the replicas (metrics are kept as sums so that this is exact)."""
        if not self.distributed:
            return tensors
        comm_device = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        out = {}
        for k in sorted(tensors):  # the same order on every rank
            t = tensors[k].detach().to(comm_device, torch.float64 if tensors[k].is_floating_point() else None)
            dist.all_reduce(t)
            out[k] = t
        return out

    def any(self, flag: bool) -> bool:
        """True on every replica if it is True on one (used to stop all replicas together)."""
        if not self.distributed:
            return flag
        comm_device = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.tensor([1.0 if flag else 0.0], device=comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item() > 0)

    def all_reduce_max(self, value: float) -> float:
        """The largest `value` over the replicas (e.g. the slowest replica's clock)."""
        if not self.distributed:
            return value
        comm_device = self.device if dist.get_backend() == "nccl" else torch.device("cpu")
        t = torch.tensor([value], dtype=torch.float64, device=comm_device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t.item())

    def gather(self, obj) -> list:
        """Every replica's `obj` (any picklable value), in rank order, on every replica: for metrics that are not
        sums (e.g. detections for an mAP), where `all_reduce_sum` cannot be exact."""
        if not self.distributed:
            return [obj]
        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def reduce_metrics(self, sums: dict) -> dict:
        """Tensors summed over the replicas; lists (per-example records) concatenated in rank order."""
        tensors = {k: v for k, v in sums.items() if not isinstance(v, list)}
        out = self.all_reduce_sum(tensors)
        for k in sorted(set(sums) - set(tensors)):
            out[k] = [x for part in self.gather(sums[k]) for x in part]
        return out

    def close(self) -> None:
        """Leave the process group (torchrun runs); a no-op in a single process."""
        if self.distributed:
            dist.destroy_process_group()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            name = "cuda"
        elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            name = "mps"
        else:
            name = "cpu"
    if name == "cuda":
        if not torch.cuda.is_available():
            raise DataError("--device cuda: CUDA is not available on this machine (use --device cpu or auto)")
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps" and not torch.backends.mps.is_available():
        raise DataError("--device mps: MPS is not available on this machine (use --device cpu or auto)")
    return torch.device(name)


def init_process_group(backend: str, rank: int, world: int) -> None:
    """Join the replicas. After a torchrun restart the rendezvous store still holds the dead round's addresses,
    so each round gets its own key prefix; a peer that stops answering fails a collective after
    DEEPLEARN_DIST_TIMEOUT seconds (default 600) instead of hanging."""
    timeout = timedelta(seconds=float(os.environ.get("DEEPLEARN_DIST_TIMEOUT", 600)))
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if restart is None:
        dist.init_process_group(backend=backend, timeout=timeout)
        return
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE", "").lower() == "true"  # the agent hosts it
    store = dist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), world,
                          is_master=not agent_store and rank == 0, timeout=timeout)
    dist.init_process_group(backend=backend, store=dist.PrefixStore(f"deeplearn/round{restart}", store),
                            rank=rank, world_size=world, timeout=timeout)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def setup(config: TrainConfig) -> Runtime:
    """Prepare this process: threads, determinism, seeds, device, process group. Call before building the model."""
    if config.threads:
        torch.set_num_threads(config.threads)
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # cuBLAS needs it for determinism
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
    else:
        torch.backends.cudnn.benchmark = True  # autotune conv algorithms for fixed input shapes
    rank = int(os.environ.get("RANK", 0))
    world = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = resolve_device(config.device, local_rank)
    if "WORLD_SIZE" in os.environ and "MASTER_ADDR" in os.environ and not dist.is_initialized():  # torchrun
        if device.type == "cuda":
            torch.cuda.set_device(device)
        init_process_group("nccl" if device.type == "cuda" else "gloo", rank, world)
    seed_everything(config.seed)  # the same seed on every replica: identical initial weights
    return Runtime(device=device, rank=rank, world_size=world, local_rank=local_rank)


def rng_state() -> dict:
    """Every random generator the loop touches, in a form `torch.load(weights_only=True)` accepts."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {"key": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "gauss": float(np_state[4])},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state(("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])

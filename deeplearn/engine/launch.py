"""`deeplearn launch`: run any deeplearn training command as N data-parallel replicas through torchrun.

    deeplearn launch --nproc 2 -- train --data mnist --out runs/mnist-ddp
    deeplearn launch --nproc 8 --nnodes 2 --node-rank 0 --rdzv-endpoint host:29400 -- train ...

It only assembles the torchrun command line (printed first) and runs it: the replicas, rendezvous and restarts
are PyTorch's own (torch.distributed.run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from deeplearn.engine.options import checked, non_negative, positive


def torchrun_command(args: argparse.Namespace, rest: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(args.nproc)]
    if args.nnodes == "1" and not args.rdzv_endpoint:
        cmd.append("--standalone")  # one machine: a local rendezvous on a free port
    else:
        cmd += ["--nnodes", args.nnodes, "--rdzv-backend", "c10d", "--rdzv-endpoint", args.rdzv_endpoint,
                "--rdzv-id", args.rdzv_id]
        if args.node_rank is not None:
            cmd += ["--node-rank", str(args.node_rank)]
    if args.max_restarts:
        cmd += ["--max-restarts", str(args.max_restarts)]
    return cmd + ["-m", "deeplearn"] + rest


def cmd_launch(args) -> int:
    rest = list(args.rest)
    if rest and rest[0] == "--":
        rest = rest[1:]
    if not rest:
        print("deeplearn launch: give the command to replicate after --, e.g. -- train --out runs/x",
              file=sys.stderr)
        return 2
    if args.nnodes != "1" and not args.rdzv_endpoint:
        print("deeplearn launch: several nodes need --rdzv-endpoint HOST:PORT", file=sys.stderr)
        return 2
    cmd = torchrun_command(args, rest)
    print(" ".join(cmd), flush=True)
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(args.threads_per_proc))  # torchrun would otherwise set 1
    return subprocess.call(cmd, env=env)


def register(sub) -> None:
    p = sub.add_parser("launch", help="run a training command as N data-parallel replicas (torchrun)",
                       description="Run `deeplearn <command>` under torchrun: N replicas per node, "
                                   "DistributedDataParallel, gloo on CPU and nccl on CUDA.")
    p.add_argument("--nproc", type=checked(int, positive), default=2, help="replicas on this node (e.g. one per GPU)")
    p.add_argument("--nnodes", default="1", help="number of nodes, or MIN:MAX for elastic jobs")
    p.add_argument("--node-rank", type=checked(int, non_negative))
    p.add_argument("--rdzv-endpoint", help="HOST:PORT of the rendezvous (several nodes)")
    p.add_argument("--rdzv-id", default="deeplearn", help="job id shared by the nodes")
    p.add_argument("--max-restarts", type=checked(int, non_negative), default=0, help="restart the replicas this often after a failure "
                                                                "(they resume from the last checkpoint)")
    p.add_argument("--threads-per-proc", type=checked(int, positive), default=1, help="torch threads per replica")
    p.add_argument("rest", nargs=argparse.REMAINDER, help="-- then the deeplearn command, e.g. -- train ...")
    p.set_defaults(func=cmd_launch)

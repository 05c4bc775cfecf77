#!/usr/bin/env bash
# One prepared run on a GPU machine: the engine's CUDA paths end to end, then the throughput benchmark.
# Usage (repository root): bash benchmarks/gpu_check.sh OUTDIR
set -uo pipefail
out=${1:-/tmp/gpu-check}
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" 2>&1 | tee -a "$out/gpu.txt"
train() { python3 -m deeplearn train --progress none "$@"; }
# bf16 autocast + channels_last on the embedded digits (data kept on the GPU), then an exact resume on CUDA
train --device cuda --amp bf16 --channels-last --epochs 30 --out /tmp/g-bf16 2>&1 | tail -2 | tee -a "$out/smoke.txt"
train --device cuda --amp fp16 --epochs 30 --out /tmp/g-fp16 2>&1 | tail -1 | tee -a "$out/smoke.txt"
train --device cuda --epochs 10 --out /tmp/g-resume 2>&1 | tail -1 | tee -a "$out/smoke.txt"
train --resume /tmp/g-resume --epochs 20 2>&1 | tail -1 | tee -a "$out/smoke.txt"
# one replica through torchrun: DistributedDataParallel on nccl
python3 -m torch.distributed.run --standalone --nproc-per-node 1 -m deeplearn train --device cuda --epochs 10 \
    --progress none --out /tmp/g-ddp 2>&1 | tail -1 | tee -a "$out/smoke.txt"
python3 -c "import json; s=json.load(open('/tmp/g-ddp/summary.json')); print('ddp', s['device'], s['world_size'], s['test'])" \
    2>&1 | tee -a "$out/smoke.txt"
timeout 420 python3 benchmarks/device_throughput.py --compile 2>&1 | tee "$out/device_throughput.txt"

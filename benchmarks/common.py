"""What every benchmark prints about where it ran."""

from __future__ import annotations

import os
import platform

import torch


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = f", GPU {torch.cuda.get_device_name()}" if torch.cuda.is_available() else ""
    return (f"{cpu} ({os.cpu_count()} cores){gpu}; torch {torch.__version__}; threads {torch.get_num_threads()}; "
            f"python {platform.python_version()}")


def commit() -> str:
    """The short hash of the checkout's HEAD ("?" outside git), for a result file's first line."""
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent)
    except OSError:
        return "?"
    return out.stdout.strip() or "?"

"""deeplearn: the systems of the lecture *Deep Learning Introduction* (Szegedy and Irving), on PyTorch."""

import os as _os

__version__ = "0.1.0"

# Threads on a shared CPU: OpenMP threads that spin while they wait collapse training when another job holds a
# core (the digits MLP took 2.9x as long beside a second job; with sleeping waiters 1.45x, and 1.1x the time on
# an idle machine: benchmarks/thread_policy.py, README "Threads"). The policy must be set before torch loads
# OpenMP, so it is set here, on importing deeplearn; a value the user set wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

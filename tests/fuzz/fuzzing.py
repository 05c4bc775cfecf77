"""Hypothesis settings shared by the fuzz tests.

In CI each test runs a fixed, derandomized handful of cases (a few seconds in all). A longer run by hand draws
fresh random cases and keeps failures in .hypothesis/ for replay:

    DEEPLEARN_FUZZ_EXAMPLES=20000 python -m pytest -q tests/fuzz
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

LONG_RUN = int(os.environ.get("DEEPLEARN_FUZZ_EXAMPLES", "0"))


def fuzz(ci_examples: int):
    """Hypothesis settings: `ci_examples` derandomized cases, or $DEEPLEARN_FUZZ_EXAMPLES random ones."""
    if LONG_RUN:
        return settings(max_examples=LONG_RUN, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    return settings(max_examples=ci_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

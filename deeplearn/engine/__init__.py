"""The engine every trainable system uses: the lecture's sketch of training as one explicit loop.

    Sample batch B_i -> network output N(v) -> loss(N(v)) -> backpropagation -> update M.

`setup(config)` prepares the process (threads, seeds, devices, replicas); a system builds its `Task`;
`fit(task, config, runtime)` trains it with checkpoints, exact resume, metrics and replicas.
"""

# Imported on first use (PEP 562), so that light modules of the engine (options, command, rundir) can be
# imported by the command line without loading torch.
_EXPORTS = {"TrainConfig": "config", "Task": "task", "BatchSource": "data", "TensorSource": "data",
            "LoaderSource": "data", "Runtime": "runtime", "setup": "runtime", "fit": "trainer",
            "TrainingError": "trainer", "StopTraining": "trainer"}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(f"deeplearn.engine.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'deeplearn.engine' has no attribute {name!r}")

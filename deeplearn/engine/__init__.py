"""The engine every trainable system uses: the lecture's sketch of training as one explicit loop.

    Sample batch B_i -> network output N(v) -> loss(N(v)) -> backpropagation -> update M.

`setup(config)` prepares the process (threads, seeds, devices, replicas); a system builds its `Task`;
`fit(task, config, runtime)` trains it with checkpoints, exact resume, metrics and replicas.
"""

from deeplearn.engine.config import TrainConfig
from deeplearn.engine.data import BatchSource, LoaderSource, TensorSource
from deeplearn.engine.runtime import Runtime, setup
from deeplearn.engine.task import Task
from deeplearn.engine.trainer import TrainingError, fit

__all__ = ["TrainConfig", "Task", "BatchSource", "TensorSource", "LoaderSource", "Runtime", "setup", "fit",
           "TrainingError"]

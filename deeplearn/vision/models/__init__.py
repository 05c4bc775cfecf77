"""The vision models; importing this package registers each one in `deeplearn.models.MODELS`."""

from deeplearn.vision.models import alexnet, bn_inception, googlenet, lenet, zfnet  # noqa: F401  (registers)

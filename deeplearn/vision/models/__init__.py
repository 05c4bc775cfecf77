"""The vision models; importing this package registers each one in `deeplearn.models.MODELS`."""

from deeplearn.vision.models import alexnet, bn_inception, cifar_fast, googlenet, lenet, zfnet  # noqa: F401  (registers)

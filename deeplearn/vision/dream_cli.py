"""`deeplearn vision dream | visualize | layers | classify`: looking inside feature networks from the command line."""

from __future__ import annotations

import time

from deeplearn.paths import DataError

MODEL_HELP = ("efficientnet-lite0 | efficientnet-lite2 (ImageNet; the imagenet extra), a `deeplearn train` run "
              "directory, or NAME:random (random weights; NAME from `deeplearn models` or efficientnet-lite0/2)")
IMAGE_HELP = "an image file, or skimage:NAME for a photo scikit-image ships (skimage:chelsea, skimage:coffee, ...)"


def parse_channels(text: str) -> list[int]:
    """'0-15' / '3,7,9' / '5' / '0-3,8' -> channel list."""
    out = []
    try:
        for part in text.split(","):
            lo, _, hi = part.partition("-")
            out += list(range(int(lo), int(hi) + 1)) if hi else [int(lo)]
    except ValueError:
        raise DataError(f"--channels {text!r}: expected e.g. 0-15, 3,7,9 or 5") from None
    if not out or min(out) < 0:
        raise DataError(f"--channels {text!r}: expected non-negative channel numbers, e.g. 0-15")
    return out


def _threads(args) -> None:
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def _load(spec):
    from deeplearn.vision.features import load_feature_net

    return load_feature_net(spec)


def cmd_layers(args) -> int:
    net = _load(args.model)
    size = (args.size, args.size) if args.size else None
    infos = net.layer_info(size)
    h, w = size or net.input_size
    print(f"{net.name}: {len(infos)} layers, output shapes for one {net.channels}x{h}x{w} input "
          f"(pixels in [0, 1], normalized by mean {_fmt(net.mean)} std {_fmt(net.std)})")
    width = max(len(i.name) for i in infos)
    for i in infos:
        print(f"{i.name:<{width}}  {'x'.join(map(str, i.shape)):<14} {i.kind}")
    return 0


def _fmt(t) -> str:
    return "(" + ", ".join(f"{v:.3f}" for v in t.flatten().tolist()) + ")"


def cmd_dream(args) -> int:
    from deeplearn.vision.dream import DreamConfig, dream, noise_image
    from deeplearn.vision.pixels import read_photo, save_png

    _threads(args)
    if (args.image is None) == (not args.noise):
        raise DataError("give an IMAGE to dream from, or --noise to start from white noise (not both)")
    net = _load(args.model)
    net.check_layer(args.layer)
    image = noise_image(net.channels, args.size, args.seed) if args.noise else \
        read_photo(args.image, net.channels, args.size)
    guide = read_photo(args.guide, net.channels, max(net.input_size)) if args.guide else None
    cfg = DreamConfig(layer=args.layer, channel=args.channel, octaves=args.octaves, octave_scale=args.octave_scale,
                      steps=args.steps, step_size=args.step_size, jitter=args.jitter, seed=args.seed)
    _check_channel(net, args.layer, args.channel)
    t = time.perf_counter()
    result = dream(net, image, cfg, guide=guide)
    seconds = time.perf_counter() - t
    path = save_png(result.image, args.output)
    rises = ", ".join(f"{o[0]:.3g}->{o[-1]:.3g}" for o in result.objective)
    print(f"{path}: {result.image.shape[2]}x{result.image.shape[1]} dream of {net.name} layer {args.layer!r}"
          f"{'' if args.channel is None else f' channel {args.channel}'}{' (guided)' if guide is not None else ''} "
          f"in {seconds:.1f} s; objective per octave {rises}")
    return 0


def _check_channel(net, layer, channel) -> None:
    if channel is None:
        return
    c = net.layer_info()[net.layers.index(layer)].shape[0]
    if not 0 <= channel < c:
        raise DataError(f"--channel {channel}: layer {layer!r} of {net.name} has channels 0-{c - 1}")


def cmd_visualize(args) -> int:
    from deeplearn.vision.featurevis import VisConfig, visualize
    from deeplearn.vision.gallery import draw_grid

    _threads(args)
    net = _load(args.model)
    net.check_layer(args.layer)
    channels = parse_channels(args.channels)
    c = net.layer_info()[net.layers.index(args.layer)].shape[0]
    if args.objective != "layer" and max(channels) >= c:
        raise DataError(f"--channels {args.channels}: layer {args.layer!r} of {net.name} has channels 0-{c - 1}")
    cfg = VisConfig(layer=args.layer, channels=tuple(channels), objective=args.objective, size=args.size,
                    steps=args.steps, lr=args.lr, decorrelate=not args.pixels, transforms=not args.no_transforms,
                    seed=args.seed, init_sd=args.init_sd)
    t = time.perf_counter()
    images, history = visualize(net, cfg)
    seconds = time.perf_counter() - t
    labels = [f"{c}" for c in channels] if args.objective != "layer" else [args.layer]
    if args.objective != "layer" and net.class_names and args.layer == net.layers[-1]:
        labels = [net.class_names[c] for c in channels]
    path = draw_grid(images, labels, args.output)
    first, last = history[0], history[-1]
    print(f"{path}: {len(images)} {args.objective} visualizations of {net.name} layer {args.layer!r} "
          f"({args.size}px, {args.steps} steps, {seconds:.1f} s); mean objective {sum(first) / len(first):.3g} -> "
          f"{sum(last) / len(last):.3g}")
    if any(abs(b - a) <= 1e-3 * max(1.0, abs(a)) for a, b in zip(first, last)):
        print("note: some objectives did not move (no gradient: the units are dead on the near-flat start); "
              "try a larger --init-sd, e.g. 0.1")
    return 0


def cmd_classify(args) -> int:
    from deeplearn.vision.features import top_classes
    from deeplearn.vision.pixels import read_photo

    net = _load(args.model)
    for spec in args.images:
        top = top_classes(net, read_photo(spec, net.channels), args.top)
        print(f"{spec}: " + ", ".join(f"{name} {p:.3f}" for name, p in top))
    return 0


def register(sub) -> None:
    """Add the verbs to the `vision` subparsers."""
    d = sub.add_parser("dream", help="DeepDream: amplify what a layer sees in a photo or in noise",
                       description="DeepDream, the google/deepdream recipe: gradient ascent on the pixels to raise "
                                   "the mean square of a layer (or channel), jitter, normalized steps, octaves.")
    d.add_argument("image", nargs="?", metavar="IMAGE", help=IMAGE_HELP)
    d.add_argument("--noise", action="store_true", help="start from white noise instead of an image")
    d.add_argument("--model", default="efficientnet-lite0", metavar="M", help=MODEL_HELP)
    d.add_argument("--layer", required=True, metavar="L", help="layer name (`deeplearn vision layers M` lists them)")
    d.add_argument("--channel", type=int, default=None, metavar="C", help="dream one channel of the layer")
    d.add_argument("--guide", metavar="IMAGE", help="guided dream: match the features of this image (" +
                   IMAGE_HELP + ")")
    d.add_argument("--octaves", type=int, default=4, help="number of octaves (default 4)")
    d.add_argument("--octave-scale", type=float, default=1.4, help="size ratio between octaves (default 1.4)")
    d.add_argument("--steps", type=int, default=10, help="gradient steps per octave (default 10)")
    d.add_argument("--step-size", type=float, default=1.5,
                   help="step in 0-255 pixel units, divided by the mean |gradient| (default 1.5)")
    d.add_argument("--jitter", type=int, default=32, help="random roll of up to this many pixels (default 32)")
    d.add_argument("--size", type=int, default=512, help="longer side of the dream in pixels (default 512)")
    d.add_argument("--seed", type=int, default=0, help="seed of the jitter and of the noise (default 0)")
    d.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    d.add_argument("-o", "--output", default="dream.png", metavar="PNG", help="output PNG (default dream.png)")
    d.set_defaults(func=cmd_dream)

    v = sub.add_parser("visualize", help="feature visualization: images that excite the channels of a layer",
                       description="Feature visualization (Olah et al. 2017, Lucid's defaults): one optimized image "
                                   "per channel, Fourier + decorrelated colour parameterization, transformation "
                                   "robustness; a grid PNG.")
    v.add_argument("--model", default="efficientnet-lite0", metavar="M", help=MODEL_HELP)
    v.add_argument("--layer", required=True, metavar="L", help="layer name (`deeplearn vision layers M` lists them)")
    v.add_argument("--channels", default="0-15", help="channels, e.g. 0-15 or 3,7,9 (default 0-15)")
    v.add_argument("--objective", choices=["channel", "neuron", "layer"], default="channel",
                   help="channel: mean of the channel; neuron: its centre unit; layer: mean square of the layer")
    v.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    v.add_argument("--steps", type=int, default=256, help="optimization steps (default 256)")
    v.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    v.add_argument("--pixels", action="store_true", help="plain pixel parameterization (no Fourier, no decorrelation)")
    v.add_argument("--no-transforms", action="store_true", help="no transformation robustness")
    v.add_argument("--init-sd", type=float, default=0.01,
                   help="std of the random start (default 0.01, Lucid's; 0.1 for nets dead on flat grey)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    v.add_argument("-o", "--output", default="features.png", metavar="PNG", help="output PNG (default features.png)")
    v.set_defaults(func=cmd_visualize)

    la = sub.add_parser("layers", help="the layers of a feature network and their output shapes")
    la.add_argument("model", metavar="M", help=MODEL_HELP)
    la.add_argument("--size", type=int, default=None, help="input side for the shapes (default: the net's)")
    la.set_defaults(func=cmd_layers)

    c = sub.add_parser("classify", help="top-k classes of images by a feature network")
    c.add_argument("images", nargs="+", metavar="IMAGE", help=IMAGE_HELP)
    c.add_argument("--model", default="efficientnet-lite0", metavar="M", help=MODEL_HELP)
    c.add_argument("--top", type=int, default=5, help="how many classes (default 5)")
    c.set_defaults(func=cmd_classify)

    from deeplearn.vision.style import commands as style_commands  # style / doodle (style transfer)

    style_commands.register(sub)

"""`deeplearn vision style | doodle` (and the fast stylizer's `style-train | stylize`): the verbs, light to import."""

from __future__ import annotations

import time

from deeplearn.engine.command import TrainingSpec, add_training_arguments, train_verb
from deeplearn.paths import DataError
from deeplearn.vision.style.fast_options import FastStyleOptions

# The default feature net of `style`: the one whose outputs scored better in the other nets (docs/style.md, "Which
# net": Lite2 beat or tied Lite0 on all 4 photo x painting pairs, the random net lost on all). Doodles keep Lite0,
# on which their layers were chosen and tested (the comparison was not run for them).
DEFAULT_NET = "efficientnet-lite2"
DOODLE_NET = "efficientnet-lite0"
NET_HELP = ("feature net optimized through: efficientnet-lite0 | efficientnet-lite2 (ImageNet; the imagenet extra) "
            "| random-multiscale (random weights) (default %(default)s)")
IMAGE = "an image file, or skimage:NAME (skimage:astronaut, skimage:chelsea, skimage:coffee, ...)"


def _threads(args) -> None:
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def _positive(name, v) -> None:
    if v is not None and v <= 0:
        raise DataError(f"--{name} {v}: must be positive")


def _summary(result, seconds: float) -> str:
    """'WxH in S s; N steps at sizes; loss per scale a->b, ...'."""
    steps = sum(len(v) for v in result.losses)
    return (f"{result.image.shape[2]}x{result.image.shape[1]} in {seconds:.1f} s; {steps} steps at "
            f"{', '.join(f'{w}x{h}' for h, w in result.sizes)}; loss per scale "
            + ", ".join(f"{v[0]:.3g}->{v[-1]:.3g}" for v in result.losses))


def cmd_style(args) -> int:
    from deeplearn.vision.features import load_feature_net
    from deeplearn.vision.pixels import save_png
    from deeplearn.vision.style.gatys import StyleConfig, transfer
    from deeplearn.vision.style.images import read_colour

    _threads(args)
    for name in ("size", "iterations"):
        _positive(name, getattr(args, name))
    if args.style_weights and len(args.style_weights) != len(args.styles):
        raise DataError(f"--style-weights: {len(args.style_weights)} weights for {len(args.styles)} style images")
    if args.style_weights and (min(args.style_weights) < 0 or sum(args.style_weights) <= 0):
        raise DataError("--style-weights: weights must be >= 0 with a positive sum")
    content = read_colour(args.content, None, "content image")
    styles = [read_colour(s, None, "style image") for s in args.styles]
    net = load_feature_net(args.model)
    cfg = StyleConfig(size=args.size, iterations=args.iterations, optimizer=args.optimizer, init=args.init,
                      content_weight=args.content_weight, style_weight=args.style_weight, tv_weight=args.tv_weight,
                      style_scale=args.style_scale, style_weights=tuple(args.style_weights or ()),
                      preserve_colors=args.preserve_colors, scales=args.scales, seed=args.seed)
    t = time.perf_counter()
    result = transfer(net, content, styles, cfg, progress=not args.no_progress)
    seconds = time.perf_counter() - t
    path = save_png(result.image, args.output)
    print(f"{path}: {_summary(result, seconds)}, {args.optimizer}, {net.name}")
    if not args.no_score:
        _print_scores(args.model, result.image, content, styles, cfg)
    return 0


def _print_scores(model, image, content, styles, cfg) -> None:
    """Style and content distances of the output, the content image and the style image, in another net."""
    from deeplearn.vision.features import load_feature_net
    from deeplearn.vision.style.gatys import resize
    from deeplearn.vision.style.measure import distances, score_net_for

    scorer = load_feature_net(score_net_for(model))
    c = resize(content, image.shape[-2:])
    rows = [("output", image), ("content image", c), ("style image", resize(styles[0], image.shape[-2:]))]
    parts = []
    for name, im in rows:
        d = distances(scorer, im, c, styles, cfg.style_weights, cfg.style_scale)
        parts.append(f"{name} style {d['style']:.3f} content {d['content']:.3f}")
    print(f"distances in {scorer.name} (not optimized): " + "; ".join(parts))


def cmd_doodle(args) -> int:
    from deeplearn.vision.features import load_feature_net
    from deeplearn.vision.pixels import save_png
    from deeplearn.vision.style.doodle_io import load_doodle
    from deeplearn.vision.style.semantic import DoodleConfig, paint

    _threads(args)
    for name in ("size", "iterations"):
        _positive(name, getattr(args, name))
    d = load_doodle(args.style, args.style_map, args.target_map, args.content, args.content_map, args.size)
    net = load_feature_net(args.model)
    cfg = DoodleConfig(iterations=args.iterations, optimizer=args.optimizer, semantic_weight=args.semantic_weight,
                       content_weight=args.content_weight, tv_weight=args.tv_weight, scales=args.scales,
                       seed=args.seed)
    t = time.perf_counter()
    result = paint(net, d.style, d.style_maps, d.target_maps, d.content, cfg, progress=not args.no_progress)
    seconds = time.perf_counter() - t
    path = save_png(result.image, args.output)
    print(f"{path}: doodle of {len(d.palette)} region kinds, {_summary(result, seconds)}, {net.name}")
    if not args.no_score:
        from deeplearn.vision.style.measure import chance_accuracy, score_net_for, semantic_accuracy

        scorer = load_feature_net(score_net_for(args.model))
        acc = semantic_accuracy(scorer, result.image, d.target_labels, d.style, d.style_labels)
        print(f"semantic accuracy in {scorer.name} (not optimized): {acc:.3f} of output positions match a style "
              f"patch of their own region kind (random matches: "
              f"{chance_accuracy(d.target_labels, d.style_labels, len(d.palette)):.3f})")
    return 0


# `vision style-train`: Adam on batches of 4 crops; 400 steps (docs/style.md has the run behind the figures).
FAST_DEFAULTS = {"steps": 400, "batch_size": 4, "optimizer": "adam", "lr": 2e-3, "eval_every": 100,
                 "log_every": 20, "monitor": "val_loss"}


def _build_fast(opts, rt, c):
    from deeplearn.vision.style.fast import build_task

    task = build_task(opts, rt, c)
    if rt.is_main:
        n = sum(p.numel() for p in task.model.parameters())
        print(f"transformation net {n:,} parameters; {task.meta['train_crops']} training crops of "
              f"{opts['crop_size']} px from {len(opts['photos'])} photos; perceptual losses in {opts['net']}",
              flush=True)
    return task


def _describe_fast(summary: dict) -> str:
    final = summary.get("final") or {}
    return (f"validation loss {final.get('val_loss', float('nan')):.4f} (content {final.get('val_content', 0):.3f}, "
            f"style {final.get('val_style', 0):.3f}); {summary['status']} after {summary['steps']} steps, "
            f"{summary['train_time_s']:.1f} s training")


SPEC = TrainingSpec(system="style", options=FastStyleOptions, build_task=_build_fast, defaults=FAST_DEFAULTS,
                    run_name=lambda cfg: "style-fast", describe=_describe_fast,
                    command="vision style-train")


def cmd_stylize(args) -> int:
    import torch

    from deeplearn.vision.pixels import save_png
    from deeplearn.vision.style.fast import load_stylizer
    from deeplearn.vision.style.images import read_colour

    _threads(args)
    model = load_stylizer(args.run_dir)
    x = read_colour(args.image, args.size, "image")
    with torch.inference_mode():
        model(x[None, :, :64, :64])  # warm-up (first-call allocations)
        t = time.perf_counter()
        y = model(x[None])[0]
        ms = (time.perf_counter() - t) * 1e3
    path = save_png(y, args.output)
    print(f"{path}: {y.shape[2]}x{y.shape[1]} stylized by {args.run_dir} in {ms:.0f} ms (one forward pass)")
    return 0


def _common(p, iterations: int, net: str) -> None:
    p.add_argument("--model", default=net, metavar="NET", help=NET_HELP)
    p.add_argument("--iterations", type=int, default=iterations,
                   help="optimization steps at each scale (default %(default)s)")
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs", help="(default %(default)s)")
    p.add_argument("--scales", type=int, default=None,
                   help="coarse-to-fine scales, each twice the previous (default: halve while the shorter side "
                        "stays >= 160 px, at most 3)")
    p.add_argument("--content-weight", type=float, default=1.0, help="(default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise start (default %(default)s)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--no-score", action="store_true", help="skip the distances measured in another net")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(sub) -> None:
    """Add `style` and `doodle` to the `vision` subparsers."""
    s = sub.add_parser("style", help="neural style transfer (Gatys et al.): paint a photo in the style of paintings",
                       description="Gatys et al. style transfer: content loss, Gram-matrix style losses, TV loss; "
                                   "L-BFGS or Adam; several styles; luminance-only transfer; coarse to fine.")
    s.add_argument("content", metavar="CONTENT", help="the photo: " + IMAGE)
    s.add_argument("styles", nargs="+", metavar="STYLE", help="one or more style images")
    s.add_argument("--style-weights", type=float, nargs="+", metavar="W",
                   help="blend weights of the style images (default: equal)")
    s.add_argument("--preserve-colors", action="store_true",
                   help="transfer luminance only and keep the photo's colours (Gatys et al. 2017)")
    s.add_argument("--size", type=int, default=512, help="longer side of the output in pixels (default %(default)s)")
    s.add_argument("--init", choices=["content", "noise", "style"], default="content",
                   help="starting image (default %(default)s)")
    s.add_argument("--style-weight", type=float, default=10.0, help="(default %(default)s)")
    s.add_argument("--tv-weight", type=float, default=1.0, help="total-variation weight (default %(default)s)")
    s.add_argument("--style-scale", type=float, default=1.0,
                   help="style image size relative to the output (default %(default)s)")
    _common(s, 100, DEFAULT_NET)
    s.add_argument("-o", "--output", default="style.png", metavar="PNG", help="output PNG (default %(default)s)")
    s.set_defaults(func=cmd_style)

    d = sub.add_parser("doodle", help="semantic style transfer (Champandard 2016): paint a doodle's regions from a "
                                      "painting's matching regions",
                       description="Neural doodles: semantic maps concatenated to the features, 3x3 patches matched "
                                   "by normalized cross-correlation (Li and Wand 2016), per-region Grams.")
    d.add_argument("--style", required=True, metavar="IMAGE", help="the painting")
    d.add_argument("--style-map", required=True, metavar="PNG", help="its semantic map (flat colours)")
    d.add_argument("--target-map", metavar="PNG", help="the doodle to paint (same colours); with --content, "
                                                        "default --content-map")
    d.add_argument("--content", metavar="IMAGE", help="a photo to keep the layout of (style transfer with maps)")
    d.add_argument("--content-map", metavar="PNG", help="the content photo's semantic map")
    d.add_argument("--size", type=int, default=None,
                   help="longer side of the output (default: the target map's own size)")
    d.add_argument("--semantic-weight", type=float, default=10.0,
                   help="weight of the maps against the features in the patch matching (default %(default)s)")
    d.add_argument("--tv-weight", type=float, default=0.1, help="total-variation weight (default %(default)s)")
    _common(d, 100, DOODLE_NET)
    d.add_argument("-o", "--output", default="doodle.png", metavar="PNG", help="output PNG (default %(default)s)")
    d.set_defaults(func=cmd_doodle)

    t = sub.add_parser("style-train", help="train a fast feed-forward stylizer for one painting (Johnson et al. "
                                           "2016), through the engine",
                       description="Fast style transfer: an image transformation net trained with the perceptual "
                                   "losses of `vision style` on crops of photos; checkpoints, exact resume, metrics.")
    add_training_arguments(t, SPEC)
    t.set_defaults(func=train_verb(SPEC))

    z = sub.add_parser("stylize", help="apply a trained fast stylizer to an image (one forward pass)")
    z.add_argument("run_dir", metavar="RUN", help="a `vision style-train` run directory")
    z.add_argument("image", metavar="IMAGE", help=IMAGE)
    z.add_argument("--size", type=int, default=512, help="longer side in pixels (default %(default)s)")
    z.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    z.add_argument("-o", "--output", default="stylized.png", metavar="PNG", help="output PNG (default %(default)s)")
    z.set_defaults(func=cmd_stylize)

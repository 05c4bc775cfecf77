"""`deeplearn vision filters RUN_DIR -o PNG` and `deeplearn vision features RUN_DIR IMAGE --layer NAME -o PNG`."""

from __future__ import annotations

import sys

from deeplearn.paths import DataError


def load_image(path, input_shape, mean, std):
    """An image file as the model's input (C x H x W): shorter side resized, centre crop, pixels / 255, normalized."""
    import numpy as np
    import torch
    from PIL import Image, UnidentifiedImageError

    c, h, w = input_shape
    if c not in (1, 3):
        raise DataError(f"the model takes {c} input channels; only 1 (grey) or 3 (RGB) can be read from an image")
    try:
        with Image.open(path) as im:
            im = im.convert("RGB" if c == 3 else "L")
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    scale = max(h / im.height, w / im.width)
    im = im.resize((max(w, round(im.width * scale)), max(h, round(im.height * scale))), Image.BILINEAR)
    left, top = (im.width - w) // 2, (im.height - h) // 2
    im = im.crop((left, top, left + w, top + h))
    x = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)  # files are 8-bit, whatever the data's pixel_max
    x = x.permute(2, 0, 1) if x.dim() == 3 else x.unsqueeze(0)
    mean = torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1)
    std = torch.tensor(std, dtype=torch.float32).view(-1, 1, 1)
    return (x - mean) / std


def cmd_filters(args) -> int:
    from deeplearn.models import load_classifier
    from deeplearn.vision.visualize import draw_filters, first_conv, first_layer_filters, low_frequency_share

    model, _ = load_classifier(args.run_dir)
    path = draw_filters(model, args.output)
    name, _ = first_conv(model)
    w = first_layer_filters(model)
    print(f"{path}: {tuple(w.shape)} filters of layer {name!r}; low-frequency energy share "
          f"{low_frequency_share(w):.2f} (white noise ~0.17, smooth filters near 1)")
    return 0


def cmd_features(args) -> int:
    from deeplearn.models import load_classifier
    from deeplearn.vision.visualize import draw_feature_maps

    model, meta = load_classifier(args.run_dir)
    x = load_image(args.image, meta["input_shape"], meta["mean"], meta["std"])
    try:
        path = draw_feature_maps(model, x, args.layer, args.output)
    except ValueError as e:
        print(f"deeplearn: error: {e}", file=sys.stderr)
        return 2
    print(f"{path}: feature maps of layer {args.layer!r}")
    return 0


def register(sub) -> None:
    f = sub.add_parser("filters", help="first-layer filters as an image grid")
    f.add_argument("run_dir", metavar="RUN_DIR", help="a training run directory")
    f.add_argument("-o", "--output", default="filters.png", metavar="PNG", help="output PNG (default: filters.png)")
    f.set_defaults(func=cmd_filters)

    m = sub.add_parser("features", help="one layer's feature maps for one input image")
    m.add_argument("run_dir", metavar="RUN_DIR", help="a training run directory")
    m.add_argument("image", metavar="IMAGE", help="an image file (resized and centre-cropped to the model's input)")
    m.add_argument("--layer", required=True, metavar="NAME",
                   help="module name, e.g. features.conv1 (an unknown name lists the valid ones)")
    m.add_argument("-o", "--output", default="maps.png", metavar="PNG", help="output PNG (default: maps.png)")
    m.set_defaults(func=cmd_features)

    from deeplearn.vision import dream_cli  # dream / visualize / layers / classify (feature networks)

    dream_cli.register(sub)

    from deeplearn.vision.detect import commands as detect  # detect train / evaluate / predict

    d = sub.add_parser("detect", help="object detection: CenterNet, Faster R-CNN, HOG-SVM; VOC and COCO mAP")
    detect.register(d.add_subparsers(dest="detect_verb", metavar="VERB", required=True))

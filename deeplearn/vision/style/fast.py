"""Fast feed-forward stylization (Johnson, Alahi, Fei-Fei 2016, "Perceptual Losses for Real-Time Style Transfer and
Super-Resolution"): an image transformation net trained, through the engine, with the perceptual losses of
`vision style` (content at one feature layer, Grams of a painting at several, TV) on crops of photos; afterwards one
forward pass stylizes an image of any size.

The net is Johnson et al.'s layout, narrowed for a CPU: 9x9 conv, two stride-2 3x3 convs, residual blocks at 1/4
resolution, two nearest-upsample + 3x3 convs (Odena et al. 2016, instead of transposed convs, against checkerboard
artifacts), a 3x3 conv to RGB and a sigmoid; instance normalization (Ulyanov, Vedaldi, Lempitsky 2016) and ReLU.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deeplearn.engine import Task, TensorSource
from deeplearn.paths import DataError
from deeplearn.vision.features import load_feature_net
from deeplearn.vision.style.gatys import fit_longer
from deeplearn.vision.style.layers import style_layers
from deeplearn.vision.style.losses import content_loss, gram, style_loss, tv_loss


def _conv(cin, cout, k, stride=1, norm=True, relu=True) -> nn.Sequential:
    layers = [nn.Conv2d(cin, cout, k, stride, padding=k // 2, padding_mode="reflect")]
    layers += [nn.InstanceNorm2d(cout, affine=True)] if norm else []
    layers += [nn.ReLU()] if relu else []
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.body = nn.Sequential(_conv(c, c, 3), _conv(c, c, 3, relu=False))

    def forward(self, x):
        return x + self.body(x)


class Upsample(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = _conv(cin, cout, 3)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class TransformNet(nn.Module):
    """N x 3 x H x W pixels in [0, 1] -> stylized, same size (H, W multiples of 4 are exact; others are padded)."""

    def __init__(self, width: int = 16, blocks: int = 3):
        super().__init__()
        w = width
        self.down = nn.Sequential(_conv(3, w, 9), _conv(w, 2 * w, 3, 2), _conv(2 * w, 4 * w, 3, 2))
        self.res = nn.Sequential(*[Residual(4 * w) for _ in range(blocks)])
        self.up = nn.Sequential(Upsample(4 * w, 2 * w), Upsample(2 * w, w), _conv(w, 3, 3, norm=False, relu=False))

    def forward(self, x):
        h, w = x.shape[-2:]
        ph, pw = (-h) % 4, (-w) % 4
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="reflect")
        y = torch.sigmoid(self.up(self.res(self.down(x))))
        return y[..., :h, :w]


def photo_crops(names, n: int, size: int, seed: int) -> torch.Tensor:
    """n random crops (N x 3 x size x size) of scikit-image photos: random photo, scale 1-2x the crop, position and
    horizontal flip, all from one seeded generator."""
    from deeplearn.vision.style.images import read_colour

    photos = [read_colour(f"skimage:{p}", None, "training photo") for p in names]
    gen = torch.Generator().manual_seed(seed)
    out = torch.empty(n, 3, size, size)
    for i in range(n):
        p = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        side = int(size * (1 + torch.rand((), generator=gen)))
        side = min(side, *p.shape[-2:])
        top = int(torch.randint(p.shape[1] - side + 1, (1,), generator=gen))
        left = int(torch.randint(p.shape[2] - side + 1, (1,), generator=gen))
        crop = p[None, :, top:top + side, left:left + side]
        crop = F.interpolate(crop, size=(size, size), mode="bilinear", align_corners=False, antialias=True)[0]
        out[i] = crop.flip(-1) if torch.rand((), generator=gen) < 0.5 else crop
    return out.clamp(0, 1)


class FastStyleTask(Task):
    """Perceptual-loss training: loss = content + style (Grams of the painting) + TV of the net's output."""

    def __init__(self, model, train, evals, net, style, opts: dict, meta: dict):
        self.model, self.train, self.evals, self.config, self.meta = model, train, evals, dict(opts), meta
        self.net, self.layers, self.opts = net, style_layers(net), opts
        with torch.no_grad():
            s = fit_longer(style, opts["crop_size"])
            feats = net.forward_layers(s[None], self.layers.style)
            self.grams = {n: gram(feats[n])[0] for n in self.layers.style}

    def batch_size_of(self, batch) -> int:
        return len(batch[0])

    def forward(self, model, batch):
        return model(batch[0])

    def parts(self, output, batch) -> dict[str, torch.Tensor]:
        """Per-image losses (N each)."""
        wanted = list(dict.fromkeys(list(self.layers.style) + [self.layers.content]))
        fo = self.net.forward_layers(output, wanted)
        with torch.no_grad():
            fc = self.net.forward_layers(batch[0], [self.layers.content])[self.layers.content]
        n = len(output)
        content = torch.stack([content_loss(fo[self.layers.content][i:i + 1], fc[i:i + 1]) for i in range(n)])
        style = torch.stack([sum(w * style_loss(fo[k][i:i + 1], self.grams[k])
                                 for k, w in zip(self.layers.style, self.layers.weights)) for i in range(n)])
        tv = torch.stack([tv_loss(output[i:i + 1]) for i in range(n)])
        o = self.opts
        total = o["content_weight"] * content + o["style_weight"] * style + o["tv_weight"] * 1e3 * tv
        return {"loss": total, "content": content, "style": style}

    def loss(self, output, batch):
        return self.parts(output, batch)["loss"].mean()

    def metric_sums(self, output, batch):
        p = self.parts(output, batch)
        return {**{k: v.sum() for k, v in p.items()}, "n": torch.tensor(float(len(output)))}

    def summarize(self, sums):
        n = max(float(sums["n"]), 1.0)
        return {k: float(sums[k]) / n for k in ("loss", "content", "style")}


def build_task(opts: dict, rt, c) -> FastStyleTask:
    from deeplearn.vision.style.images import read_colour

    if not opts.get("style"):
        raise DataError("vision style-train needs a STYLE image (or --resume RUN_DIR)")
    style = read_colour(opts["style"], None, "style image")
    net = load_feature_net(opts["net"])
    crops = photo_crops(opts["photos"], opts["crops"] + opts["val_crops"], opts["crop_size"], seed=1234)
    train, val = crops[: opts["crops"]], crops[opts["crops"]:]
    torch.manual_seed(c.seed)
    model = TransformNet(opts["width"], opts["residual_blocks"])
    per_rank = c.batch_size // rt.world_size
    src = TensorSource((train,), per_rank, shuffle=True, seed=c.seed, rank=rt.rank, world=rt.world_size)
    evals = {"val": TensorSource((val,), 8, shuffle=False, rank=rt.rank, world=rt.world_size)}
    meta = {"style": opts["style"], "net": opts["net"], "train_crops": len(train)}
    return FastStyleTask(model, src, evals, net, style, opts, meta)


def load_stylizer(run_dir) -> TransformNet:
    """The trained TransformNet of a `vision style-train` run (best checkpoint), eval mode."""
    from deeplearn.engine.rundir import RunDir

    run = RunDir(run_dir).require_system("style")
    task = run.config["task"]
    model = TransformNet(task["width"], task["residual_blocks"])
    model.load_state_dict(run.model_state("best"))
    return model.eval()

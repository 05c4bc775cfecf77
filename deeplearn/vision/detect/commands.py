"""`deeplearn vision detect train | evaluate | predict`: object detectors on mnist-detect, deepforest or a VOC
folder. CenterNet and Faster R-CNN train through the engine (checkpoints, exact resume, recipes, replicas,
GPU); HOG-SVM is fitted by its own routine (an SVM with hard-negative mining is not gradient descent)."""

from __future__ import annotations

import json
from pathlib import Path

from deeplearn.engine.command import TrainingSpec, add_training_arguments, default_run_dir, train_verb
from deeplearn.engine.rundir import RunDir
from deeplearn.paths import DataError
from deeplearn.vision.detect.options import DetectOptions

# Defaults of `vision detect train`: AdamW with a cosine decay, batch 16, validation mAP@0.5 picks best.pt.
TRAIN_DEFAULTS = {"epochs": 10, "batch_size": 16, "optimizer": "adamw", "lr": 2e-3, "weight_decay": 1e-4,
                  "schedule": "cosine", "warmup_steps": 100, "clip_grad": 10.0, "monitor": "val_map50",
                  "monitor_mode": "max", "log_every": 20}


def _build_task(opts, rt, c):
    from deeplearn.vision.detect.task import build_task, describe_task

    task = build_task(opts, rt, c.batch_size, c.seed, c.workers)
    if rt.is_main:
        print(describe_task(task), flush=True)
    return task


def _describe(summary: dict) -> str:
    test = summary.get("test") or summary.get("final") or {}
    figures = ", ".join(f"{k} {v:.4f}" for k, v in test.items() if isinstance(v, float))
    return f"{figures or 'no evaluation'} ({summary['status']}, {summary['steps']} steps, " \
           f"{summary['train_time_s']:.1f} s training, {summary['samples_per_s']:.1f} images/s)"


SPEC = TrainingSpec(system="vision", options=DetectOptions, build_task=_build_task, defaults=TRAIN_DEFAULTS,
                    run_name=lambda cfg: f"{cfg['model']}-{cfg['data'].replace(':', '-').replace('/', '-')}",
                    describe=_describe, command="vision detect train")


def cmd_train(args) -> int:
    from deeplearn.vision.detect.models import DETECTORS

    model = args.model
    if args.resume and not model and RunDir(args.resume).exists():
        model = RunDir(args.resume).config["task"].get("model")
    if model and not DETECTORS.get(model).engine:
        return _train_hog(args, model)
    return train_verb(SPEC)(args)


def _train_hog(args, model: str) -> int:
    from deeplearn.engine.command import resolve_options
    from deeplearn.vision.detect.inference import fit_hog

    if args.resume:
        raise DataError(f"--resume {args.resume}: {model} is fitted in one go; it has no resume (train it anew "
                        f"with --out)")
    _, opts = resolve_options(SPEC, args)
    out = args.out or default_run_dir(SPEC.run_name(opts))
    print(f"run directory: {out}", flush=True)
    summary = fit_hog(opts, out, progress=args.progress != "none")
    print(json.dumps(summary, indent=1))
    return 0


def cmd_evaluate(args) -> int:
    from deeplearn.vision.detect.inference import load_run, predict_dataset
    from deeplearn.vision.detect.metrics import evaluate_detections, plot_pr_curves
    from deeplearn.vision.detect.task import jsonable, load_split

    det = load_run(args.run_dir, args.weights, args.device)
    opts = {**det.config["task"], **({"data": args.data} if args.data else {}),
            **({"data_dir": args.data_dir} if args.data_dir else {})}
    if args.data:
        opts["val_images"] = opts["test_images"] = None
    ds = load_split(opts, args.split)
    classes = list(getattr(ds, "classes", det.classes))
    if len(classes) != len(det.classes):
        raise DataError(f"--data {opts['data']} has {len(classes)} classes, the detector {len(det.classes)}")
    preds, targets, per_image = predict_dataset(det, ds)
    m = evaluate_detections(preds, targets, det.classes)
    stem = f"evaluate_{opts['data'].replace(':', '-').replace('/', '-')}_{args.split}"
    out = Path(args.run_dir) / f"{stem}.json"
    png = Path(args.pr or Path(args.run_dir) / f"{stem}_pr.png")
    result = {"data": opts["data"], "split": args.split, "images": len(ds), "weights": args.weights,
              "inference_ms_per_image": round(1000 * per_image, 2), **jsonable(m)}
    out.write_text(json.dumps(result, indent=1))
    plot_pr_curves(m, png, title=f"{det.config['task']['model']} on {opts['data']} ({args.split})")
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, (dict, list))}, indent=1))
    print(f"{out}, {png}")
    return 0


def cmd_predict(args) -> int:
    from deeplearn.vision.detect.data import read_rgb
    from deeplearn.vision.detect.draw import save_detections
    from deeplearn.vision.detect.inference import load_run

    det = load_run(args.run_dir, args.weights, args.device)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    for path in args.images:
        image = read_rgb(Path(path)).float() / 255  # [3, H, W] in [0, 1]
        p = det.predict([image])[0]
        keep = p["scores"] >= args.score
        p = {k: v[keep] for k, v in p.items()}
        stem = Path(path).stem
        save_detections(out / f"{stem}.png", image, p, classes=det.classes)
        rows = [{"box": [round(float(v), 2) for v in b], "score": round(float(s), 4), "label": det.classes[int(c)]}
                for b, s, c in zip(p["boxes"], p["scores"], p["labels"])]
        (out / f"{stem}.json").write_text(json.dumps({"image": str(path), "detections": rows}, indent=1))
        print(f"{path}: {len(rows)} detections (score >= {args.score}) -> {out / stem}.png, .json")
    return 0


def register(verbs) -> None:
    p = verbs.add_parser("train", help="train a detector (CenterNet, Faster R-CNN, HOG-SVM)",
                         description="Train an object detector on mnist-detect, deepforest or voc:DIR. The deep "
                                     "detectors train through the engine; hog-svm is fitted by its own routine.")
    add_training_arguments(p, SPEC)
    p.set_defaults(func=cmd_train)

    p = verbs.add_parser("evaluate", help="VOC / COCO mAP of a detection run on a split, with the PR curves")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("--data", help="data set (default: the run's)")
    p.add_argument("--data-dir", help="data root (default: the run's, else $DEEPLEARN_DATA)")
    p.add_argument("--split", default="test", choices=["train", "val", "test"], help="split (default: test)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="checkpoint (default: best)")
    p.add_argument("--pr", metavar="PNG", help="precision-recall plot (default: RUN/evaluate_<data>_<split>_pr.png)")
    p.add_argument("--device", default="cpu", help="device (default: cpu)")
    p.set_defaults(func=cmd_evaluate)

    p = verbs.add_parser("predict", help="detect objects in image files: boxes drawn (PNG) plus JSON")
    p.add_argument("run_dir", metavar="RUN")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="folder for <image>.png and <image>.json")
    p.add_argument("--score", type=float, default=0.3, help="lowest score kept (default: 0.3)")
    p.add_argument("--weights", default="best", choices=["best", "last"], help="checkpoint (default: best)")
    p.add_argument("--device", default="cpu", help="device (default: cpu)")
    p.set_defaults(func=cmd_predict)

"""The style system's section of the lecture report: a Gatys transfer through `deeplearn vision style`, judged by
the distances the command prints in a second network that the transfer did not optimize."""

from __future__ import annotations

import re

from deeplearn.report import FAILS, HOLDS, Outcome, Section

_DISTANCES = re.compile(r"(output|content image|style image) style ([0-9.e+-]+) content ([0-9.e+-]+)")


def _painting(ctx) -> tuple[str, str]:
    """The style image (a painting from images/styles, else a second scikit-image photo) and its description."""
    root = ctx.find_data("images/styles/starry_night.jpg")
    if root is not None:
        return str(root / "images" / "styles" / "starry_night.jpg"), "The Starry Night"
    return "skimage:coffee", "scikit-image's coffee photo (images/styles is absent here)"


def parse_distances(text: str) -> dict[str, dict[str, float]]:
    """{"output" | "content image" | "style image": {"style": d, "content": d}} from `vision style`'s output."""
    found = {m[1]: {"style": float(m[2]), "content": float(m[3])} for m in _DISTANCES.finditer(text)}
    if set(found) != {"output", "content image", "style image"}:
        from deeplearn.report import SectionError

        raise SectionError("vision style printed no distances line (output / content image / style image)")
    return found


def run_style(ctx) -> Outcome:
    style, described = _painting(ctx)
    size, steps = ctx.pick(192, 512), ctx.pick(60, 100)
    model = ctx.pick("efficientnet-lite0", "efficientnet-lite2")
    out = ctx.path("chelsea-styled.png")
    text = ctx.cli(["vision", "style", "skimage:chelsea", style, "--size", size, "--iterations", steps,
                    "--model", model, "--threads", ctx.threads, "--no-progress", "-o", out])
    d = parse_distances(text)
    scorer = re.search(r"distances in (\S+)", text)[1]
    numbers = {"distances": d, "optimized_in": model, "scored_in": scorer, "size": size, "iterations": steps}
    style_ok = d["output"]["style"] < d["content image"]["style"]
    content_ok = d["output"]["content"] < d["style image"]["content"]
    reason = (f"chelsea in the style of {described}, {size} px, {steps} L-BFGS steps through {model}; measured in "
              f"{scorer}, which it did not optimize: style distance to the painting's Gram matrices "
              f"{d['output']['style']:.3f} for the output against {d['content image']['style']:.3f} for the photo; "
              f"content distance to the photo {d['output']['content']:.3f} against "
              f"{d['style image']['content']:.3f} for the painting (criterion: the output's style distance below "
              "the photo's). Doodles (Champandard's semantic maps) are measured in docs/style.md, not here.")
    fig = ctx.figure(out, f"skimage:chelsea repainted in the style of {described} (Gatys et al. 2015)",
                     numbers=numbers)
    return Outcome(HOLDS if style_ok else FAILS, reason, figures=[fig],
                   numbers={**numbers, "content_kept": content_ok})


def sections() -> list[Section]:
    return [Section("style", "Style transfer and neural doodles", "style",
                    "Deep features separate an image's content from its style: a photo repainted in a painting's "
                    "style, and two-bit doodles turned into artwork (Champandard 2016).", run_style)]

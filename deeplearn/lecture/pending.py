"""Sections for slides whose systems have not landed: each checks whether the module exists and says so.

When the system lands, it adds its own section with the same id through `System(report=...)`; that section
replaces the pending one (run.all_sections keeps a pending section only where no system gives that id).
"""

from __future__ import annotations

import importlib.util

from deeplearn.report import NOT_LANDED, UNTESTABLE, Outcome, Section


def _module_exists(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a parent package is missing
        return False


def pending(section_id: str, title: str, slide: str, claim: str, modules: tuple[str, ...]) -> Section:
    """A section for a system that is being built: "not landed yet" until one of `modules` exists."""

    def run(ctx) -> Outcome:
        found = [m for m in modules if _module_exists(m)]
        if not found:
            return Outcome(NOT_LANDED, f"{' / '.join(modules)} does not exist in this checkout: the system has "
                                       f"not landed yet, so the claim is not measured.", numbers={"modules": []})
        return Outcome(UNTESTABLE, f"{', '.join(found)} exists but gives no lecture section yet (add one with "
                                   f"System(report=...) and the id {section_id!r}).", numbers={"modules": found})

    return Section(section_id, title, slide, claim, run)


def pending_sections() -> list[Section]:
    return [
        pending("detection", "Object detection: deep learning against deformable parts", "detection",
                "On the VOC benchmark (20 categories) a deep-learning detector of 2015 reaches 78 % mAP against "
                "36 % for the pre-deep-learning deformable-parts model of 2013.",
                ("deeplearn.vision.detect",)),
        pending("style", "Style transfer and neural doodles", "style",
                "Deep features separate an image's content from its style: a photo repainted in a painting's "
                "style, and two-bit doodles turned into artwork (Champandard 2016).",
                ("deeplearn.vision.style", "deeplearn.vision.doodle")),
    ]

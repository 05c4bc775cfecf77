"""Pascal VOC annotations: one XML per image (`<size>`, `<object><name>`, `<difficult>`, `<bndbox>`).

Coordinates: VOC writes 1-based inclusive pixels (xmin = 1 is the first column, xmax = width the last); we turn
them into the exclusive 0-based boxes of this package: x1 = xmin - 1, x2 = xmax (a writer that starts at 0 is
accepted: x1 is clamped at 0). A box with xmax > width, ymax > height, a negative corner or xmin > xmax is an
error naming the file, as is a malformed XML, an unknown class and a missing image file.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from deeplearn.paths import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".JPG", ".JPEG", ".PNG")


@dataclass
class VocObject:
    name: str
    box: tuple[float, float, float, float]  # exclusive 0-based (x1, y1, x2, y2)
    difficult: bool = False


@dataclass
class VocAnnotation:
    xml: Path
    image: Path
    width: int
    height: int
    objects: list[VocObject] = field(default_factory=list)


def _text(node, tag: str, xml: Path, what: str) -> str:
    child = node.find(tag)
    if child is None or child.text is None or not child.text.strip():
        raise DataError(f"{xml}: {what} has no <{tag}>")
    return child.text.strip()


def _number(node, tag: str, xml: Path, what: str) -> float:
    s = _text(node, tag, xml, what)
    try:
        return float(s)
    except ValueError:
        raise DataError(f"{xml}: {what} <{tag}> is not a number ({s!r})") from None


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) read from the file's header."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            return im.size
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None


def find_image(xml: Path, filename: str | None, folders: list[Path]) -> Path:
    """The image of an annotation: its <filename> in one of `folders`, else any image file with the XML's stem."""
    for folder in folders:
        if filename and (folder / filename).is_file():
            return folder / filename
        for stem in dict.fromkeys([xml.stem] + ([Path(filename).stem] if filename else [])):
            for ext in IMAGE_EXTENSIONS:
                if (folder / (stem + ext)).is_file():
                    return folder / (stem + ext)
    where = " or ".join(str(f) for f in folders)
    raise DataError(f"{xml}: missing image file: no {filename or xml.stem + '.*'} (nor {xml.stem}.jpg/.png/...) "
                    f"in {where}")


def _object(node, k: int, xml: Path, width: int, height: int) -> VocObject:
    name = _text(node, "name", xml, f"object {k}")
    bb = node.find("bndbox")
    if bb is None:
        raise DataError(f"{xml}: object {k} ({name}) has no <bndbox>")
    what = f"object {k} ({name}) <bndbox>"
    xmin, ymin, xmax, ymax = (_number(bb, t, xml, what) for t in ("xmin", "ymin", "xmax", "ymax"))
    if xmin < 0 or ymin < 0 or xmax > width or ymax > height or xmin > xmax or ymin > ymax:
        raise DataError(f"{xml}: object {k} ({name}) box outside its image: xmin={xmin:g} ymin={ymin:g} "
                        f"xmax={xmax:g} ymax={ymax:g} in a {width}x{height} image")
    difficult = node.find("difficult")
    is_difficult = difficult is not None and (difficult.text or "0").strip() not in ("0", "", "false")
    box = (max(xmin - 1, 0.0), max(ymin - 1, 0.0), xmax, ymax)
    return VocObject(name, box, is_difficult)


def parse_voc(xml: Path, image_folders: list[Path]) -> VocAnnotation:
    """One annotation file, checked against its image (found in `image_folders`)."""
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as e:
        raise DataError(f"{xml}: malformed XML ({e})") from None
    except OSError as e:
        raise DataError(f"{xml}: cannot read ({e})") from None
    if root.tag != "annotation":
        raise DataError(f"{xml}: not a Pascal VOC annotation (root <{root.tag}>, expected <annotation>)")
    fn = root.find("filename")
    image = find_image(xml, fn.text.strip() if fn is not None and fn.text else None, image_folders)
    width, height = image_size(image)
    size = root.find("size")
    if size is not None and size.find("width") is not None and size.find("height") is not None:
        w, h = int(_number(size, "width", xml, "<size>")), int(_number(size, "height", xml, "<size>"))
        if (w, h) != (0, 0) and (w, h) != (width, height):
            raise DataError(f"{xml}: <size> says {w}x{h} but {image} is {width}x{height}")
    objects = [_object(o, k, xml, width, height) for k, o in enumerate(root.iter("object"))]
    return VocAnnotation(xml, image, width, height, objects)


def check_classes(ann: VocAnnotation, classes: list[str]) -> None:
    known = set(classes)
    for o in ann.objects:
        if o.name not in known:
            raise DataError(f"{ann.xml}: unknown class {o.name!r}; known: {', '.join(classes)}")


def read_class_list(folder: Path) -> list[str] | None:
    """classes.txt (or labels.txt) in the folder: one class name per line, in label order."""
    for name in ("classes.txt", "labels.txt"):
        p = folder / name
        if p.is_file():
            names = [ln.strip() for ln in p.read_text().splitlines() if ln.strip()]
            if not names:
                raise DataError(f"{p}: no class names")
            return names
    return None

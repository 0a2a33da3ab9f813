"""The local OCR engine: Tesseract 5 through ``tesserocr`` (its wheels carry the Tesseract and
Leptonica libraries) with the English ``eng.traineddata`` shipped in ``resources/tessdata``.

One engine per process, created on first use (loading the model takes ~0.2 s). Before recognition a
page image is made grey, enlarged when its text would be too small for the model, and straightened
when it is skewed (the angle is found by maximising the contrast of the row profile, a few
milliseconds on a thumbnail). Nothing leaves the machine.
"""

from __future__ import annotations

import importlib.util
import threading
import time
from functools import cache
from pathlib import Path
from typing import Any

from cohortdesk import paths
from cohortdesk.services.documents.reading.model import Line, Word

#: Pages are recognised with their long edge near this many pixels (smaller ones are enlarged).
TARGET_LONG_EDGE = 1800
MIN_LONG_EDGE = 560  # a card photo smaller than this is enlarged to SMALL_TARGET
SMALL_TARGET = 900
MAX_LONG_EDGE = 2600
#: Skew angles tried (degrees): a coarse sweep, then half steps either side of the best.
SKEW_COARSE = (-8, -6, -4, -2, 0, 2, 4, 6, 8)
SKEW_FINE = (-1.5, -1, -0.5, 0.5, 1, 1.5)
SKEW_THUMB = 300


class EngineUnavailable(RuntimeError):
    """The OCR engine or its model data is missing from this installation."""


def tessdata_dir() -> Path:
    return paths.resources_dir() / "tessdata"


def available() -> bool:
    """Whether the engine and its model are installed, without importing the engine (the GUI asks
    at start-up; the engine itself loads only in the reading worker)."""
    if importlib.util.find_spec("tesserocr") is None:
        return False
    return (tessdata_dir() / "eng.traineddata").is_file()


_lock = threading.Lock()
_api: Any = None


def _engine() -> Any:
    global _api
    if _api is None:
        try:
            import tesserocr
        except ImportError as exc:
            raise EngineUnavailable("the OCR engine (tesserocr) is not installed") from exc
        data = tessdata_dir()
        if not (data / "eng.traineddata").is_file():
            raise EngineUnavailable(f"the OCR model eng.traineddata is missing from {data}")
        _api = tesserocr.PyTessBaseAPI(path=str(data) + "/", lang="eng", psm=tesserocr.PSM.AUTO)
    return _api


@cache
def engine_name() -> str:
    """``tesseract 5.3.0``: names the engine in readings and the cache (imports the engine: call it
    off the GUI thread)."""
    try:
        import tesserocr

        return "tesseract " + tesserocr.tesseract_version().split()[1]
    except (ImportError, IndexError):
        return "tesseract"


def bare_text(image: Any) -> str:
    """The plain engine call on an image, as a baseline: no preparation, no word boxes."""
    with _lock:
        api = _engine()
        api.SetImage(image)
        return api.GetUTF8Text()


def estimate_skew(grey: Any) -> float:
    """The rotation (degrees, anticlockwise positive as Pillow turns) that makes text lines level."""
    from PIL import Image, ImageOps, ImageStat

    scale = SKEW_THUMB / max(grey.size)
    thumb = grey.resize(
        (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))), Image.Resampling.BOX
    )
    ink = ImageOps.invert(ImageOps.autocontrast(thumb, cutoff=1))

    def score(angle: float) -> float:
        turned = ink.rotate(angle, resample=Image.Resampling.BILINEAR, expand=False, fillcolor=0)
        profile = turned.resize((1, turned.height), Image.Resampling.BOX)
        return ImageStat.Stat(profile).var[0]

    scores: dict[float, float] = {angle: score(angle) for angle in SKEW_COARSE}
    coarse = max(scores, key=lambda a: (scores[a], -abs(a)))
    for step in SKEW_FINE:
        scores[coarse + step] = score(coarse + step)
    best = max(scores, key=lambda a: (scores[a], -abs(a)))
    # Level within noise: leave the page alone rather than resample it for nothing.
    return 0.0 if scores[best] < scores.get(0, 0.0) * 1.03 else float(best)


def prepare(image: Any) -> tuple[Any, float, float]:
    """(grey image ready for the engine, scale applied, skew angle corrected)."""
    from PIL import Image

    grey = image.convert("L")
    long_edge = max(grey.size)
    scale = 1.0
    if long_edge < MIN_LONG_EDGE:
        scale = SMALL_TARGET / long_edge
    elif long_edge > MAX_LONG_EDGE:
        scale = TARGET_LONG_EDGE / long_edge
    if scale != 1.0:
        grey = grey.resize(
            (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
            Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.BOX,
        )
    angle = estimate_skew(grey)
    if angle:
        grey = grey.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    return grey, scale, angle


def recognise(image: Any, page: int = 0) -> tuple[list[Line], dict[str, float]]:
    """The page's lines of words with confidences (0..1) and boxes as fractions of the page."""
    import tesserocr

    started = time.perf_counter()
    grey, scale, angle = prepare(image)
    prepared = time.perf_counter()
    width, height = grey.size
    lines: list[Line] = []
    with _lock:
        api = _engine()
        api.SetImage(grey)
        api.Recognize()
        iterator = api.GetIterator()
        level, line_level = tesserocr.RIL.WORD, tesserocr.RIL.TEXTLINE
        current: list[Word] = []
        for item in tesserocr.iterate_level(iterator, level):
            text = item.GetUTF8Text(level)
            if text is None:
                continue
            if item.IsAtBeginningOf(line_level) and current:
                lines.append(Line(page, tuple(current)))
                current = []
            text = text.strip()
            box = item.BoundingBox(level)
            if not text or box is None:
                continue
            x0, y0, x1, y1 = box
            current.append(
                Word(
                    text,
                    max(0.0, item.Confidence(level)) / 100.0,
                    (x0 / width, y0 / height, x1 / width, y1 / height),
                )
            )
        if current:
            lines.append(Line(page, tuple(current)))
    timings = {
        "prepare": prepared - started,
        "engine": time.perf_counter() - prepared,
        "scale": scale,
        "skew": angle,
    }
    return lines, timings

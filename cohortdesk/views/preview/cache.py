"""A bounded LRU of rendered pages, measured in bytes, so going back to a page or a document is instant."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtGui import QImage

from cohortdesk.views.preview.client import RenderKey

DEFAULT_CACHE_BYTES = 160 * 1024 * 1024


class PageCache:
    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.bytes = 0
        self._images: OrderedDict[RenderKey, QImage] = OrderedDict()
        self._by_page: dict[tuple[str, int, int], set[RenderKey]] = {}

    def __len__(self) -> int:
        return len(self._images)

    def __contains__(self, key: RenderKey) -> bool:
        return key in self._images

    def get(self, key: RenderKey) -> QImage | None:
        image = self._images.get(key)
        if image is not None:
            self._images.move_to_end(key)
        return image

    def best(self, fingerprint: str, page: int, rotation: int) -> QImage | None:
        """The largest rendering of a page at any size: a stand-in while the exact size renders."""
        keys = self._by_page.get((fingerprint, page, rotation))
        if not keys:
            return None
        key = max(keys, key=lambda k: k.width * k.height)
        return self._images[key]

    def put(self, key: RenderKey, image: QImage) -> None:
        if key in self._images:
            self._remove(key)
        self._images[key] = image
        self._by_page.setdefault((key.fingerprint, key.page, key.rotation), set()).add(key)
        self.bytes += image.sizeInBytes()
        while self.bytes > self.max_bytes and len(self._images) > 1:
            self._remove(next(iter(self._images)))

    def clear(self) -> None:
        self._images.clear()
        self._by_page.clear()
        self.bytes = 0

    def _remove(self, key: RenderKey) -> None:
        image = self._images.pop(key)
        self.bytes -= image.sizeInBytes()
        group = self._by_page.get((key.fingerprint, key.page, key.rotation))
        if group is not None:
            group.discard(key)
            if not group:
                del self._by_page[(key.fingerprint, key.page, key.rotation)]

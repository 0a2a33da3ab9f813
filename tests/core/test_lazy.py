"""``lazy.lazy_module``: a module two threads read first at once is imported once, and neither sees it
half made."""

from __future__ import annotations

import sys
import threading

from cohortdesk.lazy import lazy_module


def test_a_module_still_being_imported_by_another_thread_is_waited_for(tmp_path, monkeypatch):
    (tmp_path / "slow_lazy_probe.py").write_text(
        "import time\nstarted = True\ntime.sleep(0.3)\nanswer = 42\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "slow_lazy_probe", raising=False)
    stand_in = lazy_module("slow_lazy_probe")
    seen: list[object] = []

    def read() -> None:
        try:
            seen.append(stand_in.answer)
        except Exception as error:  # noqa: BLE001 - what the other thread saw, checked below
            seen.append(error)

    first = threading.Thread(target=read)
    first.start()
    while "slow_lazy_probe" not in sys.modules:  # the first thread is importing it now
        pass
    second = threading.Thread(target=read)
    second.start()
    first.join()
    second.join()
    assert seen == [42, 42]

"""Reading documents locally: what an upload says, compared with what the learner captured.

* ``model``: words, lines, fields and a document's reading (JSON for the cache and the pipe).
* ``engine``: the OCR engine (Tesseract through tesserocr, model data in ``resources/tessdata``).
* ``extract``: the rules that turn lines into fields (ID numbers, dates, names, certification).
* ``compare``: a document's fields against the captured details; pre-check results for the queue.
* ``cache``: readings kept per document version (storage key + checksum) so a file is read once.

No Qt here: the render worker process (``views/preview/render_worker.py``) renders pages, takes a
PDF's own text and calls ``engine`` and ``extract``; nothing is sent over the network.
"""

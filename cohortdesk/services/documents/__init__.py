"""The uploaded documents themselves.

* ``storage``: where uploads live (DocuSeal's disk layout), reading and writing them;
* ``reading``: reading a document locally (what an upload says, compared with what the learner
  captured).
"""

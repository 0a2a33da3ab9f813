"""Reaching the database and staying useful while it comes and goes.

* ``profiles``: saved connection profiles (TLS, hosts, pooler, replica) and opening them;
* ``secrets``: passwords in the system keyring, never in a file;
* ``connectivity``: the one classifier of connection errors (words and whether to retry) and the
  health checks;
* ``startup``: what the desktop application opens first (local store or server, schema brought up
  to date);
* ``system_info``: the About dialog's facts.
"""

"""Entry script for the frozen build: the same ``main()`` as the ``cohortdesk`` command."""

import multiprocessing

from cohortdesk.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())

"""taskdemo: a live board for many concurrent tasks. Run `python main.py --help` for the options.

The same entry point as the installed `taskdemo` command and `python -m taskdemo` (taskdemo/__main__.py).
"""
from __future__ import annotations

import sys

from taskdemo.__main__ import main as run_main


def main(argv: list[str] | None = None) -> int:
    return run_main(argv, prog='main.py')


# Native mode opens its window in a spawned process that re-imports this file as '__mp_main__'. That process
# needs nothing from here, and running main() there would end it (sys.exit) before the window opens.
if __name__ == '__main__':
    sys.exit(main())

"""The one entry point: `taskdemo` (the console script), `python -m taskdemo` and `python main.py` all run `main`.

Flags -> Settings -> the board; a bad value, a missing pywebview or an unusable data folder end it with exit
status 2 and one line that starts with the name it was called by (`taskdemo: error: ...`, `main.py: error: ...`).
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from .cli import UsageError, native_install_hint, parse_args


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Serve the board until stopped; returns the exit status. `prog` names the program in its messages and --help
    (default: derived from sys.argv[0])."""
    prog = prog or program_name()
    try:
        settings = parse_args(argv, prog=prog)
    except UsageError as error:
        print(f'{prog}: error: {error} (see --help)', file=sys.stderr)
        return 2
    if settings.native and importlib.util.find_spec('webview') is None:
        print(f'{prog}: error: --native needs pywebview: {native_install_hint()}', file=sys.stderr)
        return 2
    from .app import run  # imported here so that --help, --version and bad flags answer at once
    from .store import DataDirError
    try:
        run(settings)
    except DataDirError as error:
        print(f'{prog}: error: --data-dir: {error}', file=sys.stderr)
        return 2
    return 0


def program_name(argv0: str | None = None) -> str:
    """What the user typed: `taskdemo`, `main.py`, or `python -m taskdemo` (whose sys.argv[0] is this file)."""
    name = Path(sys.argv[0] if argv0 is None else argv0).name
    if name == '__main__.py':
        return f'python -m {__package__}'
    return name or 'taskdemo'


# Native mode opens its window in a spawned process that re-imports the main module as '__mp_main__'; that process
# needs nothing from here, and running main() there would end it (sys.exit) before the window opens.
if __name__ == '__main__':
    sys.exit(main())

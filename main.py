"""taskdemo: a live board for many concurrent tasks. Run `python main.py --help` for the options."""
from __future__ import annotations

import importlib.util
import sys

from taskdemo.cli import UsageError, parse_args

NATIVE_HINT = "--native needs pywebview: pip install -e '.[native]'"


def main(argv: list[str] | None = None) -> int:
    try:
        settings = parse_args(argv)
    except UsageError as error:
        print(f'main.py: error: {error} (see --help)', file=sys.stderr)
        return 2
    if settings.native and importlib.util.find_spec('webview') is None:
        print(f'main.py: error: {NATIVE_HINT}', file=sys.stderr)
        return 2
    from taskdemo.app import run  # imported here so that --help and bad flags answer at once
    from taskdemo.store import DataDirError
    try:
        run(settings)
    except DataDirError as error:
        print(f'main.py: error: --data-dir: {error}', file=sys.stderr)
        return 2
    return 0


# Native mode opens its window in a spawned process that re-imports this file as '__mp_main__'. That process
# needs nothing from here, and running main() there would end it (sys.exit) before the window opens.
if __name__ == '__main__':
    sys.exit(main())

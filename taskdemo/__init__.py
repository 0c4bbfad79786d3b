"""taskdemo: a live board for many concurrent tasks, in pure Python with NiceGUI."""

__version__ = '0.2.0'  # the one source: pyproject.toml reads it, and so do --version and the API docs

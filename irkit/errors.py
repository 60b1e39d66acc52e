"""Errors that irkit raises on bad input; the CLI prints them as one line."""

from __future__ import annotations

import os


class IrkitError(Exception):
    """Base class of every error irkit raises on purpose."""


class InputError(IrkitError, ValueError):
    """Malformed or missing input, located by file and (when known) line."""

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None, line: int | None = None):
        self.path = None if path is None else os.fspath(path)
        self.line = line
        self.reason = message
        where = ""
        if self.path is not None:
            where = f"{self.path}:{line}: " if line is not None else f"{self.path}: "
        super().__init__(where + message)

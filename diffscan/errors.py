"""Errors a user can cause. Each message names the file, row or column and the fix."""

from __future__ import annotations


class DiffscanError(Exception):
    """Base class: the CLI prints the message without a traceback and exits with code 2.

    `parameter` names the argument of the library call that fixes the problem (e.g. "mapping"), so a
    message speaks of parameters and each front end says where that parameter is set (the CLI's flag,
    the app's control) instead of the library naming CLI flags.
    """

    def __init__(self, message: str = "", *, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


class CatalogError(DiffscanError):
    """A catalog file cannot be read or has no usable listings."""


class MappingError(CatalogError):
    """A column mapping names a column that does not exist or a field that is unknown."""


class LimitError(CatalogError):
    """A catalog file is over one of the load limits; `limit` names the LoadLimits field (e.g. "max_rows")."""

    def __init__(self, message: str = "", *, parameter: str | None = "limits", limit: str = "") -> None:
        super().__init__(message, parameter=parameter)
        self.limit = limit


class ModelError(DiffscanError):
    """A model cannot be loaded offline, or differs from the index's model."""


class IndexFormatError(DiffscanError):
    """An index folder is missing, corrupt, or of another schema version."""


class QueryError(DiffscanError):
    """A query is empty, names an unknown listing id, or has bad filters."""

"""Errors a user can cause. Each message names the file, row or column and the fix."""

from __future__ import annotations


class DiffscanError(Exception):
    """Base class: the CLI prints the message without a traceback and exits with code 2."""


class CatalogError(DiffscanError):
    """A catalog file cannot be read or has no usable listings."""


class MappingError(CatalogError):
    """A column mapping names a column that does not exist or a field that is unknown."""


class ModelError(DiffscanError):
    """A model cannot be loaded offline, or differs from the index's model."""


class IndexFormatError(DiffscanError):
    """An index folder is missing, corrupt, or of another schema version."""


class QueryError(DiffscanError):
    """A query is empty, names an unknown listing id, or has bad filters."""

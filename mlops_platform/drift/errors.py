"""The drift job's two failures, told apart by their exit code."""

from __future__ import annotations


class DataError(Exception):
    """The data is missing or unusable (no reference, no recent inputs, bad file, missing column): exit 2."""


class ServiceError(Exception):
    """The object store or the Pushgateway cannot be reached or refused the request: exit 1."""

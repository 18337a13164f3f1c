"""Tooling for mlops-platform: the `mlops` CLI, the offline preview engine and the audit reports."""

__version__ = "0.1.0"

"""Offline voice assistant skill for people who exercise."""

__version__ = "0.1.0"

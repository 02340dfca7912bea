"""Errors a user can cause and fix; the CLI prints them as one line and exits non-zero."""


class RedlineError(Exception):
    """A problem with the user's input or environment, explained in one line."""


class ModelLoadError(RedlineError):
    """A model's weights are missing, unreadable or not a valid model file."""

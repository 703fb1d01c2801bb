"""Errors a user can act on. The CLI prints their message as one line, without a traceback."""


class WatershedError(Exception):
    """Base class: the message says what went wrong and what to do about it."""


class ConfigError(WatershedError):
    """The configuration (environment variables) is invalid."""


class StackError(WatershedError):
    """The local stack cannot be started, stopped or reached."""

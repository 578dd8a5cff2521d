"""The one user-facing error type.

A ``HarnessError`` means the user gave something unusable (a name, an option, a file). The CLI prints its message
and exits with status 2; everything else is a bug and keeps its traceback.
"""


class HarnessError(Exception):
    """Bad user input: the message names the thing (file, option, name) and what was expected."""

"""The one user-facing error type.

A ``HarnessError`` means the user gave something unusable (a name, an option, a file). The CLI prints its message
and exits with status 2; everything else is a bug and keeps its traceback.
"""

import errno

# OSError numbers that mean the user's disk or paths, not a bug: full disk, quota, read-only, permissions, bad paths
ENVIRONMENT_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR,
                      errno.EISDIR, errno.ENAMETOOLONG)


class HarnessError(Exception):
    """Bad user input: the message names the thing (file, option, name) and what was expected."""


class DiskFull(HarnessError):
    """A write failed for want of space; the message names the file.

    The CLI adds what to run once space is free, which depends on the command and on what it left behind
    (``harness.commands.retry_hint``).
    """

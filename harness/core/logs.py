"""The one log-line format of the harness: screen, the run's ``harness.log`` and worker processes."""

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
WORKER_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s[worker]: %(message)s"  # a worker's lines, marked as such
SCREEN_DATE_FORMAT = "%H:%M:%S"  # the screen shows the time only; the log file keeps the date

"""``evaluate`` on folders a user brings: every protocol definable on images, and ``--into RUN`` to add the rows."""

"""The ``kickflow`` command line."""

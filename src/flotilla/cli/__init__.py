"""The ``flotilla`` command."""

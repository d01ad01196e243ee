"""Where nodes come from: the ``Provider`` protocol and one folder per provider."""

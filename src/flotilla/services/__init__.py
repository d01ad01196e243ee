"""Transactional operations shared by the API, the console and ``apply``: validation lives here once.

Each operation takes a ``Context`` (database, settings, clock, catalog), an open session and the
``Caller``; the caller of the operation owns the transaction (``async with ctx.db.write()``).
"""

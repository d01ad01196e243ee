"""Persistence: tables, the database handle, migrations and leases."""

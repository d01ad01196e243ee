"""Loops that read the store, ask the policies, act through providers and write results."""

"""Flotilla: self-hosted compute orchestration for machine-learning models."""

__version__ = "0.1.0"

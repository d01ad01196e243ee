"""The vocabulary of Flotilla: ids, quantities, states, specs and error codes.

Pure: nothing here imports another part of flotilla, does I/O or reads the clock.
"""

"""A simulated cloud in virtual time, and the simulated agents on its machines."""

from flotilla.providers.sim.agents import SimAgents
from flotilla.providers.sim.cloud import SimCloud, SimConfig, SimulatedCrash

__all__ = ["SimAgents", "SimCloud", "SimConfig", "SimulatedCrash"]

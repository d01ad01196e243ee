"""Pure decisions: a snapshot and ``now`` in, a decision object out. No I/O, no clock."""

"""The hardware twin: simulated lock boards, doors and people on a real serial device.

The device side of every supported family, written as a peer of the protocol (it shares only the
checksum helpers with ``firmware_bridge``, so a framing bug in the bridge cannot be mirrored here
silently), behind a real pseudo-terminal paced at the configured baud rate. ``Simulator`` is the
entry point for tests, the demo and ``locker sim``.
"""

from hil_sim.simulator import Simulator

__all__ = ["Simulator"]

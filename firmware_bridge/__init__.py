"""The wire: lock-board protocols spoken byte for byte over RS-485.

``firmware_bridge.codecs`` holds one sans-IO module per board family (no asyncio, no pyserial);
``firmware_bridge.bus`` is the asyncio bus master that owns a half-duplex line, and
``firmware_bridge.transport`` the byte pipes it runs over (real serial ports, in-memory pairs,
fault wrappers).
"""

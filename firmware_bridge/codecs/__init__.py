"""Sans-IO codecs, one module per lock-board family and ``modbus_rtu`` for sensors (h11's way).

Each module offers frozen request/reply dataclasses, ``encode(request) -> bytes`` and a streaming
``Parser`` whose ``feed(data) -> list[reply]`` hunts for a header, verifies the checksum,
resynchronises after garbage and counts line noise instead of raising; ``stream`` holds what the
parsers share. Nothing here imports asyncio or pyserial.
"""

"""Sans-IO codecs, one module per lock-board family (the h11 pattern).

Each module offers frozen request/reply dataclasses, ``encode(request) -> bytes`` and a streaming
``Parser`` whose ``feed(data) -> list[reply]`` hunts for a header, verifies the checksum,
resynchronises after garbage and counts line noise instead of raising. Nothing here imports
asyncio or pyserial.
"""

"""Device-side framing for both families, written from the protocol notes, not from the bridge.

Boards see only the master's requests; they drop anything that fails its checksum silently (the
behaviour most write-ups assume), so this parser never answers garbage.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmware_bridge.codecs.checksum import sum8, xor_bcc

XOR8A_HEADERS = (0x8A, 0x80)
KERONG_STX, KERONG_ETX = 0x02, 0x03
REQUEST_LEN = 5  # every request either family's master sends is five bytes


@dataclass(frozen=True, slots=True)
class Command:
    """A request as a board understands it: header or command byte, address byte, lock byte."""

    kind: int
    address: int
    lock: int
    raw: bytes


def _xor8a_frame(frame: bytes) -> Command | None:
    if frame[0] not in XOR8A_HEADERS or frame[4] != xor_bcc(frame[:4]):
        return None
    return Command(kind=frame[0] << 8 | frame[3], address=frame[1], lock=frame[2], raw=frame)


def _kerong_frame(frame: bytes) -> Command | None:
    if frame[0] != KERONG_STX or frame[3] != KERONG_ETX or frame[4] != sum8(frame[:4]):
        return None
    return Command(kind=frame[2], address=frame[1] >> 4, lock=frame[1] & 0x0F, raw=frame)


class RequestFramer:
    """Splits the master's byte stream into commands, resynchronising after garbage."""

    def __init__(self, protocol: str) -> None:
        self._decode = _kerong_frame if protocol == "kerong-cu16" else _xor8a_frame
        self._headers = (KERONG_STX,) if protocol == "kerong-cu16" else XOR8A_HEADERS
        self._buf = bytearray()
        self.rejected_bytes = 0

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out: list[Command] = []
        while True:
            start = next((i for i, b in enumerate(self._buf) if b in self._headers), None)
            skip = len(self._buf) if start is None else start
            self.rejected_bytes += skip
            del self._buf[:skip]
            if len(self._buf) < REQUEST_LEN:
                return out
            command = self._decode(bytes(self._buf[:REQUEST_LEN]))
            if command is None:
                self.rejected_bytes += 1
                del self._buf[:1]
                continue
            del self._buf[:REQUEST_LEN]
            out.append(command)


def xor8a_reply(body: bytes) -> bytes:
    return body + bytes([xor_bcc(body)])


def kerong_reply(body: bytes) -> bytes:
    frame = bytes([KERONG_STX]) + body + bytes([KERONG_ETX])
    return frame + bytes([sum8(frame)])

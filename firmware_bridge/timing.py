"""Line timing for a half-duplex RS-485 bus, named and explained (bellows' style).

All times are seconds. Boards on these buses speak 8N1: one start bit, eight data bits, one stop
bit, so a character occupies ``BITS_PER_CHAR`` bit times on the wire.
"""

from __future__ import annotations

import math

BITS_PER_CHAR = 10

# Modbus serial line guide v1.02: frames are separated by at least 3.5 character times; above
# 19200 baud the guide fixes it at 1.75 ms because UARTs cannot resolve shorter gaps reliably.
T3_5_CHARS = 3.5
T3_5_FIXED_ABOVE_19200 = 0.00175

# Margin added to t3.5 before the next request. Open-Locker measured two 8A/80 boards at 9600:
# with no gap board 2 timed out on 56 of 56 reads, with 5 ms it answered 282 of 282.
GAP_MARGIN = 0.001

# A reply of unknown length (8A/80 read-all) is complete once the line has been silent this long.
# Not t3.5 alone: USB adapters deliver bytes in bursts (the FTDI latency timer defaults to 16 ms),
# so the host can see a gap inside a frame the board sent back to back.
HOST_SILENCE_FLOOR = 0.020


def char_time(baud: int) -> float:
    """Seconds one character occupies on the wire."""
    return BITS_PER_CHAR / baud


def wire_time(nbytes: int, baud: int) -> float:
    """Seconds ``nbytes`` back to back occupy on the wire."""
    return nbytes * char_time(baud)


def t3_5(baud: int) -> float:
    """The inter-frame silence of the Modbus serial line guide."""
    return T3_5_FIXED_ABOVE_19200 if baud > 19200 else T3_5_CHARS * char_time(baud)


def inter_frame_gap(baud: int) -> float:
    """Silence the master keeps before every request: t3.5 plus margin, rounded up to 1 ms."""
    return math.ceil((t3_5(baud) + GAP_MARGIN) * 1000) / 1000


def end_of_frame_silence(baud: int) -> float:
    """Silence after which a reply of unknown length is taken as complete."""
    return max(t3_5(baud), HOST_SILENCE_FLOOR)

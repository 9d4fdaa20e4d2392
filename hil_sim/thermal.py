"""A chilled zone's temperature: Newton's law of cooling, a thermostat and a compressor.

    dT/dt = (ambient - T) / tau  -  cooling   (cooling only while the compressor runs)

``tau`` is the zone's time constant: hours with its doors shut (insulation), minutes with a door
open (warm air pours in). The compressor removes heat at a fixed rate, set so that running without
pause behind shut doors it would settle at ``pull_down``. A thermostat with hysteresis starts it
at ``setpoint + band/2`` and stops it at ``setpoint - band/2``; a failed compressor never runs.

Between events the equation has an exact solution, T(t) = T_eq + (T0 - T_eq) exp(-t / tau) with
T_eq = ambient - cooling x tau, and the time the thermostat next switches is solved for in closed
form. ``advance`` therefore jumps from event to event: a simulated day costs a few hundred steps,
whatever the clock's scale, and nothing sleeps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

HOUR = 3600.0


@dataclass(frozen=True, slots=True)
class ThermalParams:
    """One zone's physics. The defaults are a small chilled cabinet in a 25 C room: doors shut,
    it warms from 4 C past 8 C in about an hour without its compressor; a door held open takes
    it past 8 C in about two minutes."""

    setpoint: float = 5.0
    band: float = 2.0  # thermostat hysteresis: on at setpoint + band/2, off at setpoint - band/2
    ambient: float = 25.0
    tau_closed: float = 5 * HOUR
    tau_open: float = 10 * 60.0
    pull_down: float = -10.0  # where the compressor alone would hold the zone, doors shut
    start: float | None = None  # temperature at time 0; None: the setpoint

    @property
    def cooling(self) -> float:
        """Degrees per second the running compressor removes."""
        return (self.ambient - self.pull_down) / self.tau_closed

    @property
    def cut_in(self) -> float:
        return self.setpoint + self.band / 2

    @property
    def cut_out(self) -> float:
        return self.setpoint - self.band / 2

    def __post_init__(self) -> None:
        if not self.tau_open > 0 < self.tau_closed or self.band <= 0:
            raise ValueError("time constants and band must be positive")
        if not self.pull_down < self.cut_out < self.ambient:
            raise ValueError("the compressor must be able to pull the zone below its cut-out")


@dataclass
class ThermalZone:
    """A zone's state on the simulation clock, advanced lazily and exactly."""

    params: ThermalParams = field(default_factory=ThermalParams)
    at: float = 0.0  # simulation time of ``celsius``
    celsius: float = field(init=False)
    compressor_on: bool = False
    compressor_failed: bool = False
    doors_open: int = 0
    switches: list[tuple[float, bool]] = field(default_factory=list)  # (time, compressor on)

    def __post_init__(self) -> None:
        start = self.params.start
        self.celsius = self.params.setpoint if start is None else start

    @property
    def cooling(self) -> bool:
        """Whether heat is being removed right now."""
        return self.compressor_on and not self.compressor_failed

    def advance(self, now: float) -> float:
        """Bring the zone to ``now`` (never backwards) and return its temperature."""
        while self.at < now:
            switch = self._next_switch()
            if switch is None or self.at + switch > now:
                self._drift(now - self.at)
                break
            self._drift(switch)
            self.compressor_on = not self.compressor_on
            self.switches.append((self.at, self.compressor_on))
        return self.celsius

    def door(self, at: float, *, opened: bool) -> None:
        """A door of the zone opened or closed at ``at`` (late news is applied from now)."""
        self.advance(at)
        self.doors_open = max(0, self.doors_open + (1 if opened else -1))

    def fail_compressor(self, at: float, *, failed: bool = True) -> None:
        self.advance(at)
        self.compressor_failed = failed

    def _tau(self) -> float:
        return self.params.tau_open if self.doors_open else self.params.tau_closed

    def _equilibrium(self) -> float:
        pull = self.params.cooling * self._tau() if self.cooling else 0.0
        return self.params.ambient - pull

    def _drift(self, seconds: float) -> None:
        eq = self._equilibrium()
        self.celsius = eq + (self.celsius - eq) * math.exp(-seconds / self._tau())
        self.at += seconds

    def _next_switch(self) -> float | None:
        """Seconds until the thermostat switches, or None if it never will in this regime."""
        params = self.params
        target = params.cut_out if self.compressor_on else params.cut_in
        if self.compressor_on and self.compressor_failed and self.celsius > target:
            return None  # calling for cold that never comes: stays on until repaired
        if self.compressor_on == (self.celsius <= target):
            return 0.0  # already past the threshold (a door slammed, a repair, a jump)
        eq = self._equilibrium()
        if (eq - target) * (self.celsius - target) >= 0:
            return None  # the zone settles before reaching the threshold
        return -self._tau() * math.log((target - eq) / (self.celsius - eq))

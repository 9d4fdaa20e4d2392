"""The cold chain at the edge (decision 0026): zones of chilled or frozen compartments, their
sensors sampled on the bank's clock, excursions decided here (offline too), the samples sent to
the cloud in batches through the outbox, and parcels placed by their temperature class.

- ``zones``: the ``[[zones]]`` of the bank's configuration and their checks;
- ``tables``: the store's samples, each zone's watch, the classes parcels ask for;
- ``watch``: what one sample does to a zone's watch (excursions, the sensor's health);
- ``sampler``: reading every zone, storing, batching and purging samples;
- ``placement``: which class a deposit needs, and announcements' classes.

The classes, ranges and durations themselves are ``locker_contract.cold``'s, shared with the
cloud.
"""

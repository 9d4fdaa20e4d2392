"""The edge daemon of one locker bank: doors, flows, local store, kiosk API; works offline.

``config`` (TOML), ``store`` (SQLite through SQLModel, with the transactional outbox), ``doors``
(the door supervisor on ``firmware_bridge``), ``flows`` (deposit, pickup and return as state
tables), ``throttle`` and ``codes`` (guessing limits and pickup codes), ``api`` (the kiosk's JSON
API) and ``daemon`` (the composition of all of them).
"""

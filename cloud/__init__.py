"""The fleet manager: banks, carriers, fair allocation of shared compartments, and audit.

The FastAPI full-stack template's shape: ``core`` (settings, database, security), ``models``
(SQLModel tables), ``services`` (where transactions and tenant scoping live: every query is
scoped by the caller in the service layer, not only in routes), ``api`` (routes and
dependencies), ``main`` (the app).
"""

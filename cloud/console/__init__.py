"""The managers' console at ``/console/``: accounts, pages, live updates (issue 15)."""

"""What managers read (issue 15, task C2): the console's read models, one module per page.

Every function takes the reader (``scope.Viewer``: task B's ``Person`` fits it) and scopes its
queries by the reader's sites inside itself; a bank or site of another operator is "not found".
Results are frozen dataclasses; aggregates are computed in SQL, a few statements per page
whatever the fleet's size. ``fleet`` (banks), ``bank`` (door grid, a door's history, the bank's
actions), ``parcels`` (dwell buckets, search), ``records`` (the record of deposits, pickups...
and its CSV export), ``reports`` (a site's day and month). Decision 0024.
"""

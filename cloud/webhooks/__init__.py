"""Carriers' signed webhooks and tracking (issue 16; decision 0019).

``outbox`` writes events in the transaction of their cause; ``worker`` (``locker cloud
webhooks``) signs and sends them; ``endpoints`` and ``tracking`` serve the carriers' API
(``routes``).
"""

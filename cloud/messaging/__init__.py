"""Recipients' messages: the notifier (``locker cloud notify``) and what it sends through.

Ingest writes each message as a ``Notification`` row in the transaction of its cause
(``cloud.services.notices``); dispatchers claim due rows, open the sealed code in flight, render
the message from its template and send it through a channel (SMS gateway, SMTP, or a local
outbox in development), recording each step of ``states.MESSAGE`` (decision 0016).
"""

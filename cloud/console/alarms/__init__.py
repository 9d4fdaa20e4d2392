"""Alarms with a lifecycle, for the console (issue 15; decision 0023).

The service API, scoped by the signed-in ``Person`` (``cloud.console.accounts.deps``):

- ``service.list_alarms(s, person, *, state=None, open_only=False, site_id=None, bank_id=None,
  klass=None, limit=100) -> list[AlarmView]``: newest first; a site or bank the person does not
  see is ``NotFound``.
- ``service.get_alarm(s, person, alarm_id) -> AlarmView``.
- ``service.acknowledge(engine, person, alarm_id, note, at) -> AlarmView``: raised ->
  acknowledged (who, note, when); audited.
- ``service.close(engine, person, alarm_id, note, at) -> AlarmView``: -> cleared by the person;
  a technical alarm whose cause persists is refused (``Conflict``, 409, saying why; its
  ``detail["kind"]`` names the words ``alarms.cause.<kind>``); audited.
- ``escalation.escalate_due(engine, now, after_s) -> int``: run by the notifier's loop.

Classes and which kinds belong to them: ``classes``. Ingest raises and clears alarms
(``cloud.services.alarms``, ``cloud.services.effects``): a forced door clears when that door is
shut, a jam (or an unknown outcome) when the door is next seen to open after an unlock.
"""

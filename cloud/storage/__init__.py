"""Storage policies per site (issue 14, decision 0017): the table here, the rules in
``locker_contract.storage``, the service in ``cloud.services.storage_policy``."""

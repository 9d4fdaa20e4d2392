"""The cloud's whole schema: every module of tables imported into one metadata, which the
migrations build (``cloud/migrations/env.py``) and the tests compare against them.

``cloud.models`` holds the fleet's tables; a feature with tables of its own keeps them in its own
module and is listed here, so that nothing is left out of a migration by an import forgotten.
"""

from __future__ import annotations

from cloud.coldchain import tables as _coldchain  # noqa: F401  (the cold chain, issue 17)
from cloud.console.accounts import tables as _accounts  # noqa: F401  (console accounts)
from cloud.console.health import tables as _door_health  # noqa: F401  (door health by day)
from cloud.console.views import indexes as _read_indexes  # noqa: F401  (console read models)
from cloud.messaging import tables as _messaging  # noqa: F401  (the notifier's tables)
from cloud.models import METADATA
from cloud.recipients import tables as _recipients  # noqa: F401  (the recipient page's tables)
from cloud.storage import tables as _storage  # noqa: F401  (sites' storage policies)
from cloud.webhooks import tables as _webhooks  # noqa: F401  (carriers' webhooks)

__all__ = ["METADATA"]

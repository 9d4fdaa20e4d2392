"""What the review of the console (R2) found: each test failed before its fix."""

from __future__ import annotations

import pytest

from tests.cloud.console.pages.conftest import Pages


@pytest.mark.parametrize("path", ["/console/records", "/console/records.csv"])
def test_the_last_day_there_is_as_an_end_is_invalid_not_a_500(pages: Pages, path: str) -> None:
    """``until`` is read as the start of the next day: after 9999-12-31 there is none."""
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    assert ann.get(f"{path}?until=9999-12-31").status_code == 422
    assert ann.get(f"{path}?since=9999-12-31&until=9999-12-30").status_code == 200

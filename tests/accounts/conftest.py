"""Fixtures for the accounts tests: a clock for the sign-in delays, fixed and moved on by hand, so a
test never races a 1-second wait."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from api.accounts import signin
from api.db import utcnow


class SignInClock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def sign_in_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[SignInClock]:
    clock = SignInClock()
    monkeypatch.setattr(signin, "utcnow", clock)
    yield clock

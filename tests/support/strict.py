"""What a test does when something it needs is missing: fail under `./run test` and in CI, skip elsewhere.

`./run test` exports CLAIMLINE_STRICT_TESTS=1 (and CI systems set CI=true), so there a missing broker,
database or corpus is a failure. Only a bare `pytest` on a developer's machine may skip.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

STRICT = os.environ.get("CI") == "true" or os.environ.get("CLAIMLINE_STRICT_TESTS") == "1"


def unavailable(reason: str) -> NoReturn:
    if STRICT:
        pytest.fail(reason)
    pytest.skip(reason)

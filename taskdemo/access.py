"""Who may control runs: everyone, or, when a control token is set, whoever presents it."""
from __future__ import annotations

import hmac


def token_matches(given: str | None, expected: str) -> bool:
    """Compare in constant time, so the answer's timing tells nothing about the token."""
    return hmac.compare_digest((given or '').encode(), expected.encode())

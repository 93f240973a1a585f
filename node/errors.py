"""The one exception the shell's handlers raise to refuse a request.

Owns nothing but its fields: the app's middleware turns a Refusal into a JSON error
`{"error": detail, "reason": reason}` with `status`, counts it in
`gossip_invalid_requests_total{reason}` and logs it (unless `counted` is False: a request
refused by an injected fault is not the sender's fault).
"""

from __future__ import annotations

__all__ = ["Refusal"]


class Refusal(Exception):
    def __init__(
        self,
        status: int,
        reason: str,
        detail: str,
        *,
        counted: bool = True,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail
        self.counted = counted
        self.headers = headers or {}

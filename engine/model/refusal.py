"""The one way an engine handler says no: a reason code and a text a trader can read."""

from __future__ import annotations

from engine.model.terms import RejectCode


class Refused(Exception):
    """A command that fails validation; becomes a `Rejected` event, never a crash."""

    def __init__(self, code: RejectCode, text: str, order_id: int = 0) -> None:
        super().__init__(text)
        self.code = code
        self.text = text
        self.order_id = order_id

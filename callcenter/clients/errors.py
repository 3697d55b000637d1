"""Errors of the client base.

ClientError
 ├── NoSuchClient        not found, or not visible to this user (same answer on purpose)
 ├── DuplicatesFound     likely duplicates exist (``candidates``); retry with force
 └── InvalidClientInput  a field has a bad value (``field`` and ``reason``)
"""


class ClientError(Exception):
    code = "client_error"


class NoSuchClient(ClientError):
    code = "no_such_client"

    def __init__(self, company_id: int) -> None:
        super().__init__(f"client {company_id} not found")
        self.company_id = company_id


class InvalidClientInput(ClientError):
    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class DuplicatesFound(ClientError):
    """Likely duplicates exist; the caller may show them and retry with ``force``."""

    code = "duplicates_found"

    def __init__(self, candidates: list[dict[str, object]]) -> None:
        super().__init__(f"{len(candidates)} likely duplicate(s) found")
        self.candidates = candidates

"""Errors of the client base.

ClientError
 ├── NoSuchClient        not found, or not visible to this user (same answer on purpose)
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

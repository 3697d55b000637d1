"""Errors of the call log and click-to-call.

CallError
 ├── NoSuchCall             not found, or not visible to this user
 ├── InvalidCallRequest     bad number, extension or parameter (``field``, ``reason``)
 ├── OriginateInProgress    this extension already has a click-to-call being placed
 ├── NoExtension            the user has no phone extension to ring
 └── PbxUnavailable         the PBX link is down or the PBX refused the action
"""


class CallError(Exception):
    code = "call_error"


class NoSuchCall(CallError):
    code = "no_such_call"


class InvalidCallRequest(CallError):
    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class OriginateInProgress(CallError):
    code = "originate_in_progress"


class NoExtension(CallError):
    code = "no_extension"


class PbxUnavailable(CallError):
    code = "pbx_unavailable"

"""Errors of the users domain.

UserError
 ├── NoSuchUser            login or id not found
 ├── UserAlreadyExists     the login is taken
 ├── ExtensionTaken        the extension belongs to another user
 ├── InvalidUserInput      a field has a bad value (``field`` and ``reason``)
 └── AuthenticationFailed  wrong login/password, inactive user, bad token or session
"""


class UserError(Exception):
    code = "user_error"


class NoSuchUser(UserError):
    code = "no_such_user"


class UserAlreadyExists(UserError):
    code = "user_exists"


class ExtensionTaken(UserError):
    code = "extension_taken"

    def __init__(self, extension: str) -> None:
        super().__init__(f"extension {extension} already belongs to another user")
        self.extension = extension


class InvalidUserInput(UserError):
    code = "invalid_input"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class AuthenticationFailed(UserError):
    code = "authentication_failed"

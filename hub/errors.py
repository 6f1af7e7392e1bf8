"""The hub's small error vocabulary; every error has one fixed meaning."""


class HubError(Exception):
    """Base of every error the hub raises on purpose."""


class ConfigError(HubError):
    """The configuration is wrong; start-up stops with this one line, which says what to fix."""


class NotReady(HubError):
    """A peer is not reachable right now; retry with backoff."""


class AuthFailed(HubError):
    """A peer refused our credentials; the account needs new ones, retrying will not help."""


class ChannelError(HubError):
    """A permanent channel failure for one message (bad address, content refused)."""


class InvalidRequest(HubError):
    """The caller's fault: answered with a 4xx and a stable ``error_id``."""

    def __init__(self, error_id: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
        self.status = status


class PermissionDenied(InvalidRequest):
    """The caller is known but their role does not allow this action."""

    def __init__(self, message: str = "your role does not allow this action") -> None:
        super().__init__("forbidden", message, status=403)


class NotFound(InvalidRequest):
    """The thing asked for does not exist, or the caller may not know it exists."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"{what} not found", status=404)

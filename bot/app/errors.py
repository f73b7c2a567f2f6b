"""duban's errors, one module so the tree is visible at a glance.

Exception
 ├─ DubanError                  anything duban reports to the operator without a traceback
 │   ├─ ConfigError             a bad setting; names the key (exit 2)
 │   ├─ UsageError              a command-line option that can't be used; names it (exit 2)
 │   ├─ IntakeError             a document that can't be imported; names the file (exit 1)
 │   ├─ NotFoundError           a plan, task or unit that does not exist (exit 1)
 │   └─ DeliveryError           a send that failed, and what to do: retry, split, or stop
 ├─ ParseError (ValueError)     a reply that is not a command; its message is the answer
 ├─ Rejected                    a callback refused: the HTTP status and a reason safe to log
 ├─ TooLarge                    a request body over the limit (413)
 └─ NoSuchHook                  a callback URL naming no configured hook (404)
"""

from __future__ import annotations

from typing import Any


class DubanError(Exception):
    """An error with a message fit for the operator; the CLI prints it on one line."""

    exit_code = 1


class ConfigError(DubanError):
    exit_code = 2

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"配置错误 {key}: {problem}")


class UsageError(DubanError):
    """Names the option when its value alone does not say which it is."""

    exit_code = 2

    def __init__(self, problem: str, option: str | None = None) -> None:
        self.option, self.problem = option, problem
        super().__init__(f"{option}：{problem}" if option else problem)


class IntakeError(DubanError):
    def __init__(self, source: str, problem: str) -> None:
        self.source, self.problem = source, problem
        super().__init__(f"{source}: {problem}")


class NotFoundError(DubanError):
    pass


class DeliveryError(DubanError):
    """A send that did not succeed, and what to do about it: retry later (the default),
    split the message and resend (`too_long`), wait before using this webhook again
    (`retry_after`, seconds; set for rate limits), or stop (`permanent`: bad key, token
    gone, signature rejected — the row is dead-lettered and the operator alerted)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        too_long: bool = False,
        retry_after: float | None = None,
        answer: dict[str, Any] | None = None,
    ) -> None:
        self.permanent = permanent
        self.too_long = too_long
        self.retry_after = retry_after
        self.answer = answer or {}
        super().__init__(message)


class ParseError(ValueError):
    """A reply that is not a command; `message` is the polite answer to send back."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


class Rejected(Exception):  # noqa: N818 -- a verdict: the name says what happened
    """A refused callback: `status` to answer (400, 401, 403, or 503 to be sent again later)
    and a `reason` safe to log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class TooLarge(Exception):  # noqa: N818 -- a verdict, like Rejected
    """A request body over the hooks' limit (answered 413)."""


class NoSuchHook(Exception):  # noqa: N818 -- a verdict, like Rejected
    """A callback URL naming no configured hook of its platform (answered 404)."""

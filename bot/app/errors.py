"""duban's errors, one module so the tree is visible at a glance.

DubanError(Exception)           anything duban reports to the operator without a traceback
 ├─ ConfigError                 a bad setting; names the key (exit 2)
 ├─ UsageError                  a command-line option that can't be used; names it (exit 2)
 ├─ IntakeError                 a document that can't be imported; names the file (exit 1)
 └─ NotFoundError               a plan, task or unit that does not exist (exit 1)
"""

from __future__ import annotations


class DubanError(Exception):
    """An error with a message fit for the operator; the CLI prints it on one line."""

    exit_code = 1


class ConfigError(DubanError):
    exit_code = 2

    def __init__(self, key: str, problem: str) -> None:
        self.key, self.problem = key, problem
        super().__init__(f"配置错误 {key}: {problem}")


class UsageError(DubanError):
    exit_code = 2

    def __init__(self, option: str, problem: str) -> None:
        self.option, self.problem = option, problem
        super().__init__(f"{option}：{problem}")


class IntakeError(DubanError):
    def __init__(self, source: str, problem: str) -> None:
        self.source, self.problem = source, problem
        super().__init__(f"{source}: {problem}")


class NotFoundError(DubanError):
    pass

"""The signed links duban hands out: a unit's report page for one item, a reviewer's page,
an evidence file. Each is `[web] public_url` + a path + a token (bot/domain/tokens.py)
signed with `[report] secret`; without both, no link is made (None).

| path          | purpose    | subject                         | who follows it          |
|---------------|------------|---------------------------------|-------------------------|
| /r/{token}    | report     | (unit id, due point id)         | the unit, from a reminder |
| /v/{token}    | review     | ("office",) or ("supervisor", id) | the office, a supervisor |
| /e/{token}    | evidence   | (evidence id,)                  | whoever was shown it      |
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.tokens import Subject, sign

REPORT = "report"
REVIEW = "review"
EVIDENCE = "evidence"
PATHS = {REPORT: "/r/", REVIEW: "/v/", EVIDENCE: "/e/"}


@dataclass(frozen=True)
class Links:
    base: str = ""  # [web] public_url, without the trailing slash
    key: bytes = b""  # [report] secret
    days: int = 30  # [report] link_days

    @property
    def enabled(self) -> bool:
        return bool(self.base and self.key)

    def report(self, unit_id: int, due_point_id: int, now: datetime) -> str | None:
        """The unit's page for one due point of one of its items."""
        return self._link(REPORT, (unit_id, due_point_id), now)

    def review(self, kind: str, person_id: int | None, now: datetime) -> str | None:
        """The office's (kind "office") or a supervisor's review page."""
        subject: Subject = ("office",) if kind == "office" else ("supervisor", person_id or 0)
        return self._link(REVIEW, subject, now)

    def evidence(self, evidence_id: int, now: datetime) -> str | None:
        return self._link(EVIDENCE, (evidence_id,), now)

    def _link(self, purpose: str, subject: Subject, now: datetime) -> str | None:
        if not self.enabled:
            return None
        token = sign(self.key, purpose, subject, now + timedelta(days=self.days))
        return f"{self.base}{PATHS[purpose]}{token}"

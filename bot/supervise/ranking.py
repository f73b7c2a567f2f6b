"""The public ranking (晾晒) as pure functions: the rule file, scores, ranks, trends.

A unit's score for a period is the weighted mean of three shares (weights in
`schedules/ranking.toml`, by default 50/30/20):

- on-time reports: report cycles due in the period that it reported on by their due day;
- on track: the tasks it leads that are at or ahead of the progress expected for the elapsed
  time (work spread evenly from the start to the deadline), or done;
- without overdue items: its assignments none of whose deadlines or milestones was past due
  and unfinished at any moment of the period.

A share with nothing to count (a unit that leads no task) is left out and the remaining
weights carry the score. Scores are rounded to one decimal; equal scores share a rank
(1, 1, 3). Nothing here reads the database or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.domain.periods import PERIOD_KINDS, PeriodKind
from bot.domain.tomlfiles import invalid, read_toml
from bot.present.labels import TREND_MARKS, TREND_NAMES

TRENDS = tuple(TREND_NAMES)


# --- the rule file ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _WeightsModel(_Strict):
    on_time_reports: float = Field(default=50, ge=0)
    on_track: float = Field(default=30, ge=0)
    no_overdue: float = Field(default=20, ge=0)

    @model_validator(mode="after")
    def _something_counts(self) -> _WeightsModel:
        if self.on_time_reports + self.on_track + self.no_overdue <= 0:
            raise ValueError("至少一项权重应大于 0")
        return self


class _LightsModel(_Strict):
    green: float = Field(default=85, ge=0, le=100)
    yellow: float = Field(default=60, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> _LightsModel:
        if self.yellow > self.green:
            raise ValueError("yellow 不能高于 green")
        return self


class _AccountabilityModel(_Strict):
    red_periods: int = Field(default=3, ge=1)
    period: PeriodKind = "month"
    overdue_working_days: int = Field(default=10, ge=1)


class _RankingModel(_Strict):
    periods: list[PeriodKind] = Field(default_factory=lambda: list(PERIOD_KINDS))
    channel: str = ""
    require_approval: bool = False
    weights: _WeightsModel = _WeightsModel()
    lights: _LightsModel = _LightsModel()
    accountability: _AccountabilityModel = _AccountabilityModel()

    @field_validator("periods")
    @classmethod
    def _unique_periods(cls, periods: list[PeriodKind]) -> list[PeriodKind]:
        # A field validator, so that the error's key is `periods`, not the whole file.
        if len(set(periods)) != len(periods):
            raise ValueError("periods 不能重复")
        return periods


@dataclass(frozen=True)
class Weights:
    on_time_reports: Fraction = Fraction(50)
    on_track: Fraction = Fraction(30)
    no_overdue: Fraction = Fraction(20)


@dataclass(frozen=True)
class Lights:
    green: Fraction = Fraction(85)
    yellow: Fraction = Fraction(60)


@dataclass(frozen=True)
class Accountability:
    """For the accountability entries (问责): red this many periods (of kind `period`)
    running, or an item overdue by more than this many working days."""

    red_periods: int = 3
    overdue_working_days: int = 10
    period: PeriodKind = "month"


@dataclass(frozen=True)
class RankingConfig:
    periods: tuple[PeriodKind, ...] = PERIOD_KINDS
    channel: str = ""  # "" means the delivery default channel
    require_approval: bool = False
    weights: Weights = field(default_factory=Weights)
    lights: Lights = field(default_factory=Lights)
    accountability: Accountability = field(default_factory=Accountability)


def build_config(model: _RankingModel) -> RankingConfig:
    w, lights, acc = model.weights, model.lights, model.accountability
    return RankingConfig(
        periods=tuple(model.periods),
        channel=model.channel.strip(),
        require_approval=model.require_approval,
        weights=Weights(Fraction(w.on_time_reports), Fraction(w.on_track), Fraction(w.no_overdue)),
        lights=Lights(Fraction(lights.green), Fraction(lights.yellow)),
        accountability=Accountability(acc.red_periods, acc.overdue_working_days, acc.period),
    )


def parse_config(data: dict[str, Any], source: str = "ranking.toml") -> RankingConfig:
    try:
        return build_config(_RankingModel.model_validate(data))
    except ValidationError as exc:
        raise invalid(source, exc) from None


def load_ranking_config(path: Path) -> RankingConfig:
    """Reads schedules/ranking.toml; raises ConfigError naming the file and the key."""
    return parse_config(read_toml(path, "晾晒规则文件"), str(path))


# --- scores -------------------------------------------------------------------------------


def expected_progress(start: date, deadline: date, until: date) -> int:
    """Percent of the work expected done before the day `until` when it is spread evenly over
    the days from `start` through `deadline` (rounded down; 100 once the deadline is past)."""
    span = (deadline - start).days + 1
    if span <= 0:
        return 100
    elapsed = min(max((until - start).days, 0), span)
    return elapsed * 100 // span


@dataclass(frozen=True)
class UnitMetrics:
    """What one unit did in one period: the counts behind its three shares."""

    unit: str
    reports_due: int = 0
    reports_on_time: int = 0
    lead_tasks: int = 0
    on_track: int = 0
    assignments: int = 0
    overdue: int = 0  # assignments with an item overdue at some moment of the period

    def shares(self) -> tuple[Fraction | None, Fraction | None, Fraction | None]:
        return (
            _share(self.reports_on_time, self.reports_due),
            _share(self.on_track, self.lead_tasks),
            _share(self.assignments - self.overdue, self.assignments),
        )

    def as_json(self) -> dict[str, Any]:
        on_time, on_track, no_overdue = self.shares()
        return {
            "reports_due": self.reports_due,
            "reports_on_time": self.reports_on_time,
            "on_time_rate": _percent(on_time),
            "lead_tasks": self.lead_tasks,
            "on_track": self.on_track,
            "on_track_rate": _percent(on_track),
            "assignments": self.assignments,
            "overdue": self.overdue,
            "no_overdue_rate": _percent(no_overdue),
        }


def _share(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole > 0 else None


def _tenths(value: Fraction) -> int:
    """`value` in tenths, rounded half up (exact: no float on the way)."""
    return int((value * 20 + 1) // 2)


def _percent(share: Fraction | None) -> float | None:
    return None if share is None else _tenths(share * 100) / 10


def score_tenths(metrics: UnitMetrics, weights: Weights) -> int | None:
    """The score 0–100 in tenths; None when no weighted share applies to the unit."""
    parts = zip(
        metrics.shares(),
        (weights.on_time_reports, weights.on_track, weights.no_overdue),
        strict=True,
    )
    counted = [(share, weight) for share, weight in parts if share is not None and weight > 0]
    total = sum((weight for _, weight in counted), Fraction(0))
    if total == 0:
        return None
    return _tenths(sum((share * weight for share, weight in counted), Fraction(0)) * 100 / total)


def light_of(score: Fraction, lights: Lights) -> str:
    if score >= lights.green:
        return "green"
    return "yellow" if score >= lights.yellow else "red"


def trend_of(rank: int, previous: int | None) -> str:
    """Up when the rank number fell (moved towards 1), down when it rose."""
    if previous is None:
        return "new"
    if rank == previous:
        return "same"
    return "up" if rank < previous else "down"


@dataclass(frozen=True)
class RankedUnit:
    unit: str
    score: float
    rank: int
    light: str
    trend: str
    metrics: UnitMetrics

    def as_json(self) -> dict[str, Any]:
        return {
            "unit": self.unit,
            "score": self.score,
            "rank": self.rank,
            "light": self.light,
            "trend": self.trend,
            "metrics": self.metrics.as_json(),
        }


def rank_units(
    metrics: Iterable[UnitMetrics],
    weights: Weights,
    lights: Lights,
    previous: Mapping[str, int] | None = None,
) -> list[RankedUnit]:
    """Scores, ranks (ties share one: 1, 1, 3), lights and trends, best first.

    `previous` holds last period's ranks by unit; a unit missing from it is "new". Units
    with nothing to score are left out. Equal scores are listed by unit name.
    """
    scored = [(tenths, m) for m in metrics if (tenths := score_tenths(m, weights)) is not None]
    scored.sort(key=lambda pair: (-pair[0], pair[1].unit))
    earlier = previous or {}
    ranked: list[RankedUnit] = []
    for position, (tenths, unit) in enumerate(scored, start=1):
        tied = position > 1 and scored[position - 2][0] == tenths
        rank = ranked[-1].rank if tied else position
        score = Fraction(tenths, 10)
        ranked.append(
            RankedUnit(
                unit.unit,
                tenths / 10,
                rank,
                light_of(score, lights),
                trend_of(rank, earlier.get(unit.unit)),
                unit,
            )
        )
    return ranked


def ranks_by_unit(ranked: Iterable[RankedUnit]) -> dict[str, int]:
    return {row.unit: row.rank for row in ranked}


# --- what a message shows -----------------------------------------------------------------


def score_text(score: float) -> str:
    """96 rather than 96.0; 87.5 as it is."""
    return str(int(score)) if score == int(score) else f"{score:.1f}"


def message_rows(ranked: Iterable[RankedUnit]) -> list[dict[str, Any]]:
    """The rows messages/ranking.j2 shows: rank, unit, score, light, trend mark."""
    return [
        {
            "rank": row.rank,
            "unit": row.unit,
            "score": score_text(row.score),
            "light": row.light,
            "trend": TREND_MARKS[row.trend],
        }
        for row in ranked
    ]

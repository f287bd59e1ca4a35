"""SLA policies: targets per customer tier and priority, read from YAML, and the business-hours calendar.

The file (SLA_POLICY_FILE, default: `policies.yaml` beside this module) looks like

    default_tier: standard
    business_hours: {timezone: Europe/Berlin, days: [mon, tue, wed, thu, fri], start: "09:00", end: "17:00",
                     holidays: ["2026-12-25"]}
    tiers:
      standard:
        urgent: {first_response: 1h, next_response: 1h, resolution: 1d}
        medium: {first_response: 1d, next_response: 1d, resolution: 5d, business_hours: [resolution]}
        ...

Durations are `90s`, `30m`, `4h`, `1d`, `1w` or sums of them (`1h 30m`); a bare number is seconds.
`business_hours` on a target is `true` (all three clocks), `false` (none, the default) or a list of clock
names: those clocks count only the calendar's hours. Every tier lists all four priorities.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crew.models import Priority

SHIPPED_POLICY_FILE = Path(__file__).resolve().parent / "policies.yaml"
CLOCKS = ("first_response", "next_response", "resolution")
Clock = Literal["first_response", "next_response", "resolution"]
PRIORITIES = tuple(p.value for p in Priority)
DEFAULT_PRIORITY = Priority.MEDIUM.value
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A deadline is looked for at most this far ahead (a calendar with working days always finds one sooner).
_MAX_DAYS = 3700


class PolicyError(ValueError):
    """The SLA policy file is missing or wrong; the message says where."""


def parse_duration(value: Any) -> timedelta:
    if isinstance(value, bool):
        raise ValueError("a duration, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        text = str(value).strip().lower()
        if not text or _PART.sub("", text).strip():
            raise ValueError(f"{value!r} is not a duration like 90s, 30m, 4h, 1d or 1h 30m")
        seconds = sum(float(n) * _UNIT[u] for n, u in _PART.findall(text))
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return timedelta(seconds=seconds)


class _TargetsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_response: timedelta
    next_response: timedelta
    resolution: timedelta
    business_hours: bool | list[Clock] = False

    @field_validator("first_response", "next_response", "resolution", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        return parse_duration(value)


class _CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _known_days(cls, value: list[str]) -> list[str]:
        unknown = [d for d in value if d.lower()[:3] not in _DAYS]
        if unknown:
            raise ValueError(f"unknown day(s) {unknown}; use mon, tue, wed, thu, fri, sat, sun")
        return value

    @model_validator(mode="after")
    def _start_before_end(self) -> _CalendarIn:
        if self.start >= self.end:
            raise ValueError("business hours must start before they end")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        return self


class _FileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default_tier: str
    business_hours: _CalendarIn | None = None
    tiers: dict[str, dict[str, _TargetsIn]] = Field(min_length=1)

    @model_validator(mode="after")
    def _complete(self) -> _FileIn:
        if self.default_tier not in self.tiers:
            raise ValueError(f"default_tier {self.default_tier!r} is not one of the tiers {sorted(self.tiers)}")
        for tier, by_priority in self.tiers.items():
            if set(by_priority) != set(PRIORITIES):
                raise ValueError(f"tier {tier!r} must list exactly the priorities {list(PRIORITIES)}")
            if self.business_hours is None and any(t.business_hours for t in by_priority.values()):
                raise ValueError(f"tier {tier!r} counts business hours but the file defines no business_hours")
        return self


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours: `days` (0 = Monday) from `start` to `end` local time in `tz`, except `holidays`."""

    tz: ZoneInfo
    days: frozenset[int]
    start: time
    end: time
    holidays: frozenset[date]

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        if day.weekday() not in self.days or day in self.holidays:
            return None
        opens = datetime.combine(day, self.start, tzinfo=self.tz).astimezone(UTC)
        closes = datetime.combine(day, self.end, tzinfo=self.tz).astimezone(UTC)
        return opens, closes

    def counted(self, start: datetime, end: datetime) -> float:
        """Seconds of working time in [start, end)."""
        if end <= start:
            return 0.0
        total = 0.0
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date() + timedelta(days=1)
        while day <= last:
            window = self._window(day)
            if window is not None:
                lo, hi = max(start, window[0]), min(end, window[1])
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add(self, start: datetime, seconds: float) -> datetime:
        """The instant at which `seconds` of working time after `start` have passed."""
        day = start.astimezone(self.tz).date() - timedelta(days=1)
        for _ in range(_MAX_DAYS):
            window = self._window(day)
            day += timedelta(days=1)
            if window is None or window[1] <= start:
                continue
            lo = max(start, window[0])
            available = (window[1] - lo).total_seconds()
            if seconds <= available:
                return lo + timedelta(seconds=seconds)
            seconds -= available
        raise PolicyError("no working hours within ten years: check the business_hours of the SLA policy")


@dataclass(frozen=True)
class Targets:
    """The three targets of one tier and priority, and which clocks count business hours only."""

    tier: str
    priority: str
    first_response: timedelta
    next_response: timedelta
    resolution: timedelta
    business_clocks: frozenset[str]

    def target(self, clock: str) -> timedelta:
        value: timedelta = getattr(self, clock)
        return value

    def as_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "priority": self.priority,
            **{clock: self.target(clock).total_seconds() for clock in CLOCKS},
            "business_hours": sorted(self.business_clocks),
        }


@dataclass(frozen=True)
class SlaPolicies:
    default_tier: str
    calendar: BusinessCalendar | None
    targets_by_tier: dict[str, dict[str, Targets]]
    near_breach_ratio: float
    source: str

    @property
    def tiers(self) -> list[str]:
        return sorted(self.targets_by_tier)

    def tier_of(self, tier: str | None) -> str:
        return tier if tier in self.targets_by_tier else self.default_tier

    def targets(self, tier: str | None, priority: str | None) -> Targets:
        """An unknown tier gets the default tier's targets; an unset priority (before the crew classified the
        case) gets medium's."""
        by_priority = self.targets_by_tier[self.tier_of(tier)]
        return by_priority.get(priority or DEFAULT_PRIORITY) or by_priority[DEFAULT_PRIORITY]

    def calendar_for(self, targets: Targets, clock: str) -> BusinessCalendar | None:
        return self.calendar if clock in targets.business_clocks else None

    @cached_property
    def earliest_crossing(self) -> timedelta:
        """The least time any clock of any tier and priority runs before it reaches a threshold (near breach):
        a case younger than this has crossed none, as no clock starts before its case or runs faster than
        the wall clock. Computed once: the sweep asks for every watched case."""
        shortest = min(
            targets.target(clock)
            for by_priority in self.targets_by_tier.values()
            for targets in by_priority.values()
            for clock in CLOCKS
        )
        return shortest * self.near_breach_ratio


def _calendar(spec: _CalendarIn) -> BusinessCalendar:
    return BusinessCalendar(
        tz=ZoneInfo(spec.timezone),
        days=frozenset(_DAYS[d.lower()[:3]] for d in spec.days),
        start=spec.start,
        end=spec.end,
        holidays=frozenset(spec.holidays),
    )


def parse_policies(data: Any, *, near_breach_ratio: float, source: str = "<memory>") -> SlaPolicies:
    try:
        spec = _FileIn.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise PolicyError(f"SLA policy {source} is invalid: {problems}") from exc
    targets: dict[str, dict[str, Targets]] = {}
    for tier, by_priority in spec.tiers.items():
        targets[tier] = {}
        for priority, t in by_priority.items():
            business = t.business_hours
            clocks = frozenset(CLOCKS if business is True else (business or []))
            targets[tier][priority] = Targets(tier, priority, t.first_response, t.next_response, t.resolution, clocks)
    calendar = _calendar(spec.business_hours) if spec.business_hours is not None else None
    return SlaPolicies(spec.default_tier, calendar, targets, near_breach_ratio, source)


def load_policies(path: str | Path | None = None, *, near_breach_ratio: float = 0.8) -> SlaPolicies:
    file = Path(path) if path else SHIPPED_POLICY_FILE
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"SLA policy file {file} cannot be read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise PolicyError(f"SLA policy file {file} is not valid YAML: {exc}") from exc
    return parse_policies(data, near_breach_ratio=near_breach_ratio, source=str(file))


@lru_cache(maxsize=8)
def _cached(path: str, ratio: float, mtime: float) -> SlaPolicies:
    return load_policies(path or None, near_breach_ratio=ratio)


def policies_for(policy_file: str, near_breach_ratio: float) -> SlaPolicies:
    """The policies of these settings, read once per process (again if the file changes)."""
    file = Path(policy_file) if policy_file else SHIPPED_POLICY_FILE
    try:
        mtime = file.stat().st_mtime
    except OSError:
        mtime = 0.0
    return _cached(policy_file, near_breach_ratio, mtime)


def shipped_policies() -> SlaPolicies:
    """The policies shipped with the desk at the default near-breach ratio (for callers without settings)."""
    return policies_for("", 0.8)


class _SlaSettings(Protocol):
    sla_policy_file: str
    sla_near_breach_ratio: float


def policies_of(settings: _SlaSettings) -> SlaPolicies:
    """The policies the settings name (SLA_POLICY_FILE, SLA_NEAR_BREACH_RATIO), cached per process."""
    return policies_for(settings.sla_policy_file, settings.sla_near_breach_ratio)

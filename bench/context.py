"""What every scenario gets: a working directory, the account template and the run's size (full or quick)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.api_process import Account, AccountTemplate

INTEGRATOR = "bench-integrator"
# One integrator acts for every simulated customer (it must name the customer_id, which is the limit key).
ACCOUNTS = (Account(INTEGRATOR, "integrator"),)


@dataclass(frozen=True)
class BenchContext:
    workdir: Path
    accounts: AccountTemplate
    quick: bool
    # hosted-slow and hybrid also run their top level on this many API processes sharing Redis-backed limits.
    workers: int = 4
    redis_url: str = "redis://127.0.0.1:6379/15"
    # ...and one PostgreSQL database (a throw-away schema in it): several processes writing one SQLite file
    # wait for each other's locks, which is not how the desk is deployed for load.
    worker_database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

    def scenario_dir(self, name: str) -> Path:
        return self.workdir / name


def target(name: str, wanted: str, measured: float | int | str, met: bool) -> dict[str, object]:
    """One target line of a scenario, measured value beside the wanted one."""
    return {"target": name, "wanted": wanted, "measured": measured, "met": met}

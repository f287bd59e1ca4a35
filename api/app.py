"""The application factory. Importing this module has no side effects; `create_app` builds one app with
its own engine, limiter, audit log and crew holder on `app.state` (nothing is shared between apps)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI

from api.errors import install_error_handlers
from api.logging_setup import LogSetup
from api.middleware import RequestContextMiddleware
from api.openapi import install_openapi
from api.routes import admin, articles, auth, cases, customers, events, health, oncall, status, support
from crew.models import SupportCrew
from desk.articles import Articles
from desk.audit import AuditLog
from desk.audit_rows import AuditRowWriter
from desk.crew_holder import CrewHolder
from desk.db import make_session_factory, process_engine
from desk.escalation import EscalationHook
from desk.intake import Intake
from desk.jobs.service import JobService
from desk.language import LanguageGuesser
from desk.oncall.service import OncallService
from desk.oncall.tasks import CeleryPageDispatcher
from desk.principals import PrincipalCache
from desk.ratelimit import RateLimits
from desk.settings import Settings, get_settings
from security.tokens import VerifiedTokens

# How long the embedded pool's first job waits for the crew to finish loading.
READY_WAIT_SECONDS = 600.0
# Requests hold a connection only while a transaction is open, so a few tens serve hundreds of crew threads.
API_POOL_CAP = 20


def create_app(
    settings: Settings | None = None,
    crew: SupportCrew | None = None,
    *,
    escalation_hook: EscalationHook | None = None,
) -> FastAPI:
    """Build the API. Without `crew`, the real crew is built once at startup, in a background thread."""
    settings = settings or get_settings()
    engine = process_engine(settings, needed=min(settings.crew_max_workers, API_POOL_CAP))
    session_factory = make_session_factory(engine)
    # The request writes and chains the file line; the database copy follows in batches (desk/audit_rows.py).
    audit_rows = AuditRowWriter(engine, settings.audit_log_file, chain=settings.audit_chain)
    audit = AuditLog(settings.audit_log_file, engine, rows=audit_rows, chain=settings.audit_chain)
    crew_holder = CrewHolder(crew)

    def job_intake() -> Intake:
        """The intake the embedded pool's jobs run with (built on first use, once the crew is loaded)."""
        state = app.state
        holder: CrewHolder = state.crew_holder
        holder.wait(READY_WAIT_SECONDS)
        return Intake(
            engine,
            settings,
            holder.get(),
            state.limits,
            audit,
            state.escalation_hook,
            state.languages,
            state.articles,
        )

    jobs = JobService(settings, engine, audit, job_intake)
    dispatcher = CeleryPageDispatcher(settings, session_factory, jobs.celery) if jobs.celery is not None else None
    # Another hook (tests) pages by itself; the outbox's reconcile sweep would page its cases twice.
    paging = OncallService(settings, session_factory, audit, reconcile=escalation_hook is None, dispatcher=dispatcher)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        logs = LogSetup(settings.log_file, settings.log_level)
        # `def` endpoints run on anyio's default limiter (40 threads); each crew call holds one thread
        # for the whole model call, so size it for the concurrent requests we accept.
        limiter = to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.crew_max_workers)
        crew_holder.start_loading(settings)
        audit_rows.start()
        paging.start()
        jobs.start()
        try:
            yield
        finally:
            jobs.stop()
            paging.stop()
            audit_rows.close()
            engine.dispose()
            logs.close()

    app = FastAPI(
        title="Support desk API",
        summary="A multi-agent customer-support desk: file requests, read cases.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = session_factory
    app.state.audit = audit
    app.state.limits = RateLimits(
        settings.rate_limit_storage_uri,
        settings.rate_limit_per_minute,
        settings.login_rate_limit,
        settings.login_username_rate_limit,
        settings.login_address_rate_limit,
    )
    app.state.crew_holder = crew_holder
    app.state.languages = LanguageGuesser()
    app.state.articles = Articles()
    app.state.principals = PrincipalCache(settings.principal_cache_seconds)
    app.state.tokens = VerifiedTokens(secret=settings.secret_key.get_secret_value(), algorithm=settings.algorithm)
    app.state.oncall = paging
    app.state.jobs = jobs
    app.state.escalation_hook = escalation_hook or paging.pager

    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        audit=audit,
        trusted_proxies=settings.trusted_proxies,
    )
    for module in (auth, support, cases, oncall, status, admin, health, articles, events, customers):
        app.include_router(module.router)
    install_openapi(app)
    return app

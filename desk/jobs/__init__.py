"""Crew runs as durable jobs (issue 13).

    models      the `jobs` and `idempotency_keys` tables (a job row is the source of truth for one crew run)
    store       Core statements on them: create (the case turns `queued`), claim, renew, finish, sweep
    runner      one run of one job: claim -> (classify, page an auto-emergency) -> the crew -> answer or failure
    events      job progress (queued, running, classified, routed, answered, failed) for waiters and streams
    embedded    the default without a broker: the same runner on a bounded thread pool in the API process
    broker      the Celery app: the `crew` and `paging` queues, the tasks, `support-desk worker`
    service     what `create_app` starts: the queue, the lease renewer and the recovery sweep
    idempotency `Idempotency-Key`: one first result per key and body

README, "Workers and jobs", draws the whole picture.
"""

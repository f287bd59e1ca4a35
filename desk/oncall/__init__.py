"""On-call paging for emergencies (issue 5).

    service.OncallService    builds the pieces below for one app; `create_app` starts/stops it in the lifespan
    pager.OutboxPager        the `EscalationHook`: writes the page into the outbox (durable) and wakes the worker
    worker.DeliveryWorker    a thread: claims due pages (atomic UPDATE, leases), posts them, retries, re-pages
    delivery.WebhookSender   one signed HTTP POST of one page
    signing                  the HMAC-SHA256 signature scheme (sign and verify)
    policy                   backoff with jitter, response times (KB-031), the auto-emergency rule
    models                   the `oncall_pages` outbox and the `oncall_cases` escalation state
    actions / routes         staff actions (ack, reply, status, hand-back), the queue and the outbox view

`docs/oncall.md` describes the payload, the headers and how a receiver verifies a page.
"""

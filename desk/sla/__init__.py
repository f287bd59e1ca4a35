"""SLA clocks (issue 15): every case's deadlines, computed from its history.

    policy      the YAML policies (per customer tier and priority: first response, next response, resolution;
                optional business hours) and the business-hours calendar
    clock       the clocks of one case as a pure function of its history and `now`
    history     a case's history (messages, status changes, current status) read from the database
    sweeper     the thread that writes near-breach and breach events, re-pages and hands cases to people
    events      writing those events (case thread note, audit, page) once, whichever process sees them first

README "SLA and customer context" describes the rules.
"""

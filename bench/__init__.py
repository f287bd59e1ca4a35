"""`support-desk bench`: load-tests the desk on loopback and reports latency, throughput and costs.

commands.bench(args)        parses the scenario list, runs each, prints / writes the report
scenarios/*                 one module per scenario (local, hosted-slow, hybrid, ratelimit, startup, kb-search)
api_process.ApiProcess      `support-desk serve` as a child on a free port, temp database, accounts
driver                      the load generator, run as a separate process (asyncio + httpx)
fake_llm.FakeLLMServer      an asyncio OpenAI-compatible server that answers after a fixed delay
procstat                    CPU time and RSS of a process from /proc (psutil is not a dependency)
profiling                   in-process CPU profile of the full request path, bucketed by package (layer)
fake_crew.FakeCrew          the one stand-in crew (instant, delay, failure, records calls); tests use it too
stats                       the one percentile definition (linear interpolation) and per-level summaries
report                      table, JSON and PNG chart
api_layer, crew_latency, paging   standalone benchmarks (`python -m bench.<name>`)
"""

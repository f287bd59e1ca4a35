"""The crew's uses of other libraries' private internals, each in one module with a test that fails loudly
when the library changes (`tests/crew/test_compat.py`).

    crewai_internals       CrewAI: agent steps on the caller's thread (speed); no kickoff-outputs database
                           (privacy)
    openai_parsed_classes  pydantic + OpenAI SDK: structured-output response classes built once (speed)

A speed-up stays here only while a measured figure justifies it (docs/performance.md, "Private internals:
kept and dropped"). One private flag lives outside, because it must be declared on the Flow class itself:
`crew/flow.py` sets CrewAI's `_skip_auto_memory` (the flag CrewAI's own internal flows set), without which
every Flow builds a LanceDB memory with the OpenAI embedder; `tests/crew/test_compat.py` checks it too.
"""

"""The crew's uses of other libraries' private internals, each in one module with a test that fails loudly
when the library changes (`tests/crew/test_compat.py`).

    crewai_internals       CrewAI: agent steps on the caller's thread (speed); no kickoff-outputs database
                           (privacy)
    openai_parsed_classes  pydantic + OpenAI SDK: structured-output response classes built once (speed)
    openai_pass_through    CrewAI's OpenAI client: chat messages and tools sent without the SDK's walk (speed)

A speed-up stays here only while a measured figure justifies it (docs/performance.md, "Private internals:
kept and dropped").

`crew/direct.py` is not here because it uses CrewAI's utilities rather than its private attributes, but it
mirrors what CrewAI's agent executor sends (the tool-result messages, the forced final answer): after a CrewAI
upgrade, run `tests/crew/test_direct.py` too; it fails when a kickoff and a direct task stop sending the same.
"""

"""Local, offline models: the routing classifier (`router`) and the deterministic LLM stand-in."""

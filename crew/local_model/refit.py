"""`python -m crew.local_model.refit`: refit the embedding router and ship the fit beside the examples.

Run it after editing any file in `data/` (or the router's constants): it embeds our examples with the pinned
model, cross-validates, fits, writes `data/routing-<hash>.npz` (removing the stale one) and prints the
cross-validation report that docs/routing.md quotes. The desk reads that file at start-up, so a fresh
checkout is ready in seconds; with a stale or missing file it refits at start-up instead (slower, same
result) and `tests/crew/test_embedding_router.py` fails until the file is refreshed.
"""

from __future__ import annotations

import json
import logging
import sys

from crew.config import CrewConfig
from crew.local_model.router import DATA_DIR, LocalRouter


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    router = LocalRouter.from_config(CrewConfig(routing_cache_dir=DATA_DIR))
    if router.semantic is None:
        sys.stderr.write("refit: the embedding model is unavailable (see the log above)\n")
        return 1
    model = router.semantic.model
    sys.stdout.write(router.describe() + "\n")
    sys.stdout.write(json.dumps({"threshold": model.threshold, **model.report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

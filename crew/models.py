"""Typed objects the crew hands to its callers (CLI, API, benchmarks).

These are the contract between `crew/` and everything above it: the API stores and returns them, the
CLI prints them. They import nothing from crewai so any layer can use them cheaply.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Literal, Protocol, TypedDict, Unpack

from pydantic import BaseModel, Field
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema, JsonSchemaMode


class FixedSchemaModel(BaseModel):
    """A model whose JSON schema (with pydantic's default arguments) is generated once, when the class is built.

    CrewAI asks for the schema of a task's `output_pydantic` model and of a tool's `args_schema` on every
    kickoff, several times (the task prompt, the tool description, the tools sent to the provider, the
    OpenAI SDK's strict schema for `response_format`), and pydantic regenerates it on every call: ~0.7 ms
    of CPU each, ~3 ms per hosted request. A class's schema cannot change after it is built, so it is
    computed once; every caller gets its own deep copy (~0.04 ms), because CrewAI and the OpenAI SDK edit
    the dict they get. Calls with other arguments are pydantic's own.
    """

    _fixed_json_schema: ClassVar[dict[str, Any] | None] = None

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        # A model that is not complete yet (unresolved forward references) keeps pydantic's per-call path;
        # None also stops it from inheriting its parent's schema.
        complete = cls.__pydantic_complete__
        cls._fixed_json_schema = super().model_json_schema() if complete else None

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool = True,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: JsonSchemaMode = "validation",
        *,
        union_format: Literal["any_of", "primitive_type_array"] = "any_of",
    ) -> dict[str, Any]:
        fixed = cls._fixed_json_schema
        defaults = (
            by_alias is True
            and ref_template == DEFAULT_REF_TEMPLATE
            and schema_generator is GenerateJsonSchema
            and mode == "validation"
            and union_format == "any_of"
        )
        if fixed is not None and defaults:
            return copy.deepcopy(fixed)
        return super().model_json_schema(by_alias, ref_template, schema_generator, mode, union_format=union_format)


class Category(StrEnum):
    BILLING = "billing"
    TECHNICAL = "technical"
    ESCALATION = "escalation"
    GENERAL = "general"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"


class Route(StrEnum):
    """The path a request takes. `AUTO` is only ever an input: the result always names a concrete route."""

    AUTO = "auto"
    BILLING = "billing"
    TECHNICAL = "technical"
    ESCALATION = "escalation"
    GENERAL = "general"
    COMPLEX = "complex"


class Classification(FixedSchemaModel):
    """What the classifier task returns (its `output_pydantic`)."""

    category: Category
    priority: Priority
    confidence: float = Field(ge=0.0, le=1.0)
    is_complex: bool = Field(description="Several issues at once, or not answerable by one specialist")
    signals: list[str] = Field(default_factory=list, description="Phrases or rules that drove the decision")
    secondary_categories: list[Category] = Field(default_factory=list)
    out_of_scope: bool = Field(
        default=False,
        description=(
            "True when the message is not a customer-support request at all (general knowledge, maths, weather, "
            "smart-home commands, chit-chat): it is then routed general and is never an emergency"
        ),
    )

    def route(self) -> Route:
        if self.out_of_scope:
            return Route.GENERAL
        return Route.COMPLEX if self.is_complex else Route(self.category.value)


class Citation(BaseModel):
    article_id: str
    title: str


class TokenUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class SupportResult(BaseModel):
    """The one object a support request produces."""

    reply: str
    agent_type: Route
    classification: Classification
    citations: list[Citation] = Field(default_factory=list)
    model_calls: int = 0
    hosted_model_calls: int = 0
    token_usage: TokenUsage = Field(default_factory=TokenUsage)
    stage_seconds: dict[str, float] = Field(default_factory=dict)
    degraded: bool = False
    degraded_reason: str | None = None


class ThreadMessage(BaseModel):
    """One earlier message of a case, handed back to the crew as context (staff hand-back, follow-ups)."""

    author: str = Field(description="customer, agent or staff")
    text: str


class HandleOptions(TypedDict, total=False):
    """What a caller may add to a message for `SupportCrew.handle`; `Handling.of` fills in the defaults."""

    route: Route  # forced route (AUTO: the classifier's)
    emergency: bool  # forces escalation
    history: Sequence[ThreadMessage]  # the case's earlier messages
    context: Mapping[str, Any] | None  # case details: integrator context, customer profile, language
    # The caller's own `classify(message)` result, if it already has one (the auto-emergency check): the flow
    # then routes on it instead of classifying again (with a hosted classifier, a second paid call).
    classification: Classification | None


@dataclass(frozen=True)
class Handling:
    route: Route = Route.AUTO
    emergency: bool = False
    history: Sequence[ThreadMessage] = ()
    context: Mapping[str, Any] | None = None
    classification: Classification | None = None

    @classmethod
    def of(cls, options: HandleOptions) -> Handling:
        return cls(**options)


class SupportCrew(Protocol):
    """What the API needs from the crew. `crew.service.SupportDesk` is the real one; tests may pass fakes."""

    def classify(self, message: str) -> Classification: ...

    def handle(self, message: str, **options: Unpack[HandleOptions]) -> SupportResult:
        """Answer one message (`HandleOptions` says what a caller may add)."""
        ...

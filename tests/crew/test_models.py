"""`FixedSchemaModel`: the JSON schema CrewAI asks for on every kickoff is generated once per class."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from crew.models import Classification, FixedSchemaModel
from crew.tools import KnowledgeBaseSearchInput


def _pydantic_schema(model: type[BaseModel], **options: object) -> dict[str, object]:
    return BaseModel.model_json_schema.__func__(model, **options)  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("model", [Classification, KnowledgeBaseSearchInput])
def test_schema_is_pydantics_own(model: type[FixedSchemaModel]) -> None:
    assert model.model_json_schema() == _pydantic_schema(model)
    # CrewAI passes the default template explicitly.
    assert model.model_json_schema(ref_template="#/$defs/{model}") == _pydantic_schema(model)


def test_other_arguments_are_generated_by_pydantic() -> None:
    assert Classification.model_json_schema(mode="serialization") == _pydantic_schema(
        Classification, mode="serialization"
    )
    assert Classification.model_json_schema(by_alias=False) == _pydantic_schema(Classification, by_alias=False)


def test_each_caller_gets_its_own_copy() -> None:
    # The OpenAI SDK makes the schema strict in place; that must not leak into the next request's prompt.
    first = Classification.model_json_schema()
    first["additionalProperties"] = False
    first["properties"]["category"]["tampered"] = True
    assert Classification.model_json_schema() == _pydantic_schema(Classification)


def test_a_subclass_gets_its_own_schema() -> None:
    class Narrower(Classification):
        note: str = ""

    assert "note" in Narrower.model_json_schema()["properties"]
    assert "note" not in Classification.model_json_schema()["properties"]

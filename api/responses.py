"""A JSON response written straight from a pydantic model.

FastAPI re-validates whatever an endpoint returns against its `response_model` and then encodes it with
`jsonable_encoder` (plain Python); for a `def` endpoint the validation also runs on a threadpool thread, a
second thread hop per request. The models the hot endpoints return are built (and validated) by our own
code, so they are serialised once, by pydantic's compiled serialiser, into the same JSON. The endpoints keep
`response_model=` for the OpenAPI schema.
"""

from __future__ import annotations

from pydantic import BaseModel
from starlette.responses import Response


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")

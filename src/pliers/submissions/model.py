"""A submission as clients send it."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel


class NewSubmission(BaseModel):
    """``{formId, data, submittedBy?, metadata?}``; ``data`` is checked against the form."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    form_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    data: dict[str, Any]
    submitted_by: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

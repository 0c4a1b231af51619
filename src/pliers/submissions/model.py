"""A submission as clients send it, and as the submission hooks receive it once written."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from pydantic.alias_generators import to_camel

from pliers.forms.definition import EmailNotification


class NewSubmission(BaseModel):
    """``{formId, data, submittedBy?, metadata?}``; ``data`` is checked against the form."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    form_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    data: dict[str, Any]
    submitted_by: Annotated[StrictStr, Field(min_length=1, max_length=255)] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Written(NamedTuple):
    """A written submission and its form, both as the API returns them, with the mail the form's
    definition asks for, as it was checked."""

    form: dict[str, Any]
    submission: dict[str, Any]
    notifications: Sequence[EmailNotification] = ()

"""The Form Engine: form definitions, their rules, and checking submitted data against them."""

from pliers.forms.definition import FormDefinition, Schema, parse_definition
from pliers.forms.validation import check, problems_of

__all__ = ["FormDefinition", "Schema", "check", "parse_definition", "problems_of"]

"""Form definitions the page tests share."""

from __future__ import annotations

from typing import Any

#: One field of each of the fifteen types, with rules the page mirrors.
EVERY_TYPE: dict[str, Any] = {
    "name": "Every type",
    "description": "One field of each type",
    "public": True,
    "fields": [
        {
            "name": "name",
            "type": "text",
            "label": "Your name",
            "required": True,
            "validation": {"minLength": 2, "maxLength": 40},
        },
        {"name": "about", "type": "textarea", "description": "A few words", "placeholder": "…"},
        {"name": "email", "type": "email", "label": "E-mail", "required": True},
        {"name": "site", "type": "url"},
        {"name": "phone", "type": "tel"},
        {"name": "height", "type": "number", "validation": {"min": 0.5, "max": 2.5}},
        {"name": "age", "type": "integer", "validation": {"min": 0, "max": 130}},
        {"name": "member", "type": "boolean"},
        {"name": "born", "type": "date", "validation": {"min": "1900-01-01"}},
        {"name": "meeting", "type": "datetime"},
        {"name": "wake", "type": "time", "validation": {"max": "12:00"}},
        {"name": "size", "type": "select", "options": ["S", "M", {"value": 3, "label": "Large"}]},
        {"name": "colours", "type": "multiselect", "options": ["red", "green", "blue"]},
        {"name": "contact", "type": "radio", "options": ["mail", "phone"], "required": True},
        {"name": "topics", "type": "checkbox", "options": ["news", "events"]},
        {"name": "agree", "type": "checkbox", "label": "I agree", "validation": {"oneOf": [True]}},
    ],
}

#: A valid answer to :data:`EVERY_TYPE` as a browser posts it.
POSTED: dict[str, Any] = {
    "name": "Ada",
    "about": "Counts things",
    "email": "ada@example.com",
    "site": "https://example.com",
    "phone": "+44 20 7946 0000",
    "height": "1.7",
    "age": "36",
    "member": "true",
    "born": "1915-12-10",
    "meeting": "2026-11-25T16:00",
    "wake": "07:30",
    "size": "3",
    "colours": ["red", "blue"],
    "contact": "mail",
    "topics": ["events"],
    "agree": "true",
}

#: What :data:`POSTED` is stored as.
STORED: dict[str, Any] = {
    "name": "Ada",
    "about": "Counts things",
    "email": "ada@example.com",
    "site": "https://example.com",
    "phone": "+44 20 7946 0000",
    "height": 1.7,
    "age": 36,
    "member": True,
    "born": "1915-12-10",
    "meeting": "2026-11-25T16:00:00Z",
    "wake": "07:30",
    "size": 3,
    "colours": ["red", "blue"],
    "contact": "mail",
    "topics": ["events"],
    "agree": True,
}

"""``{{field}}`` placeholders: plain substitution, escaped in HTML, nothing executed."""

from __future__ import annotations

from pliers.notifications.templating import default_body, render, render_subject


def test_placeholders_are_filled_from_the_data() -> None:
    assert render("Hello {{name}} <{{ email }}>", {"name": "Ada", "email": "a@x.io"}) == (
        "Hello Ada <a@x.io>"
    )


def test_html_bodies_escape_submitted_values() -> None:
    rendered = render(
        "<p>{{comment}}</p>", {"comment": '<script>alert("x")</script> & co'}, html=True
    )
    assert rendered == "<p>&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co</p>"


def test_plain_bodies_keep_values_as_they_are() -> None:
    assert render("{{comment}}", {"comment": "<b>&</b>"}) == "<b>&</b>"


def test_unknown_placeholders_become_empty() -> None:
    assert render("a{{missing}}b", {"name": "Ada"}) == "ab"


def test_nothing_is_evaluated() -> None:
    """Expressions, attribute access and format fields are not placeholders; they stay text."""
    template = "{{ name.__class__ }} {{1+1}} {name} {{__import__('os')}}"
    assert render(template, {"name": "Ada"}) == template


def test_values_of_other_types_read_naturally() -> None:
    data = {"n": 3, "ok": True, "tags": ["a", "b"], "none": None}
    assert render("{{n}}|{{ok}}|{{tags}}|{{none}}", data) == "3|yes|a, b|"


def test_subjects_are_one_line() -> None:
    assert render_subject("New: {{name}}", {"name": "Ada\r\nBcc: x@y.z"}) == "New: Ada Bcc: x@y.z"


def test_default_body_lists_the_fields_with_labels_in_form_order() -> None:
    form = {
        "name": "Registration",
        "fields": [{"name": "name", "label": "Name"}, {"name": "email", "label": "Email"}],
    }
    body = default_body(form, {"email": "a@x.io", "name": "Ada"})
    assert body == "New submission to Registration\n\nName: Ada\nEmail: a@x.io"


def test_default_html_body_escapes() -> None:
    body = default_body({"name": "F", "fields": []}, {"bio": "<i>x</i>"}, html=True)
    assert "&lt;i&gt;x&lt;/i&gt;" in body
    assert "<i>" not in body

"""The README's Python first look runs as written against a live server."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from client_servers import ServerProcess

pytestmark = pytest.mark.integration

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_client_example_runs(server_process: ServerProcess) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    [example] = [b for b in blocks if "from pliers.client import" in b]
    code = example.replace("http://127.0.0.1:8000", server_process.base_url)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {})  # the README's own example
    lines = printed.getvalue().splitlines()
    assert lines[0] == "1 1"
    assert lines[1] == "form.created {'name': 'Contact'}"
    assert lines[2] == "1 form-2"
    assert lines[3].startswith("409 SEQUENCE_CONFLICT sequence conflict")

"""The Form and Submission Engines' domain code loads no web framework, driver or cache client."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

DOMAIN_MODULES = [
    "pliers.forms",
    "pliers.forms.definition",
    "pliers.forms.validation",
    "pliers.forms.records",
    "pliers.forms.service",
    "pliers.submissions.service",
    "pliers.submissions.export",
]
INFRASTRUCTURE = {"fastapi", "starlette", "uvicorn", "asyncpg", "aiosqlite", "redis", "httpx"}


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_imports_no_infrastructure(module: str) -> None:
    probe = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.check_output([sys.executable, "-c", probe], text=True)))
    assert loaded & INFRASTRUCTURE == set()

"""What a function's code can import, from grimp's import graph (lazy imports inside functions too)."""

from __future__ import annotations

import sys
from functools import cache
from typing import Any

from shared import topology

# Packages a module imports without naming them: zoneinfo reads the tz database from tzdata.
IMPLIED = {"zoneinfo": "tzdata"}


@cache
def _graph() -> Any:
    import grimp

    return grimp.build_graph(
        "services", "shared", include_external_packages=True, exclude_type_checking_imports=True
    )


def third_party_modules(spec: topology.Function) -> set[str]:
    """The top-level third-party modules the handler's module and everything it imports can import."""
    module = spec.handler.split(":")[0]
    found = set()
    for name in _graph().find_upstream_modules(module):
        if name.startswith(("services", "shared")):
            continue
        top = name.split(".")[0]
        if top in sys.stdlib_module_names:
            if top in IMPLIED:
                found.add(IMPLIED[top])
            continue
        found.add(top)
    return found

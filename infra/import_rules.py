"""The dependency rules of SPEC ("Architecture") as import-linter contracts, written out from the files on disk.

A capability's modules are named by role (``rules*.py``, ``service*.py``, ``store*.py``, ``routes*.py``,
``models*.py``), and import-linter's wildcards match whole module names only (``tollgate.*.rules`` but not
``tollgate.*.rules_*``), so the contracts list the modules of each role. ``python -m infra.import_rules``
prints the ``[tool.importlinter]`` section; a unit test fails when ``pyproject.toml`` differs from it (a new
``rules_x.py`` or ``store_x.py`` is then one command away from being covered). docs/decisions.md, "The
dependency rules", gives the reason for each contract.
"""

from __future__ import annotations

from pathlib import Path

CAPABILITIES = ("tenancy", "pool", "purchases", "keys", "holds", "approvals", "events", "reports")
ROOTS = ("tollgate.services", "tollgate.validation_services")  # the composition roots
AWS_AND_HTTP = ("boto3", "botocore", "pynamodb", "stripe", "aws_lambda_powertools")
LAYER = Path(__file__).resolve().parent.parent / "shared" / "tollgate"


def role(module: str) -> str:
    """``tollgate.pool.rules_expiry`` -> ``rules``; modules outside a capability have no role."""
    return module.rsplit(".", 1)[-1].split("_")[0]


def capability_modules(capability: str, layer: Path = LAYER) -> list[str]:
    return [
        f"tollgate.{capability}.{path.stem}"
        for path in sorted((layer / capability).glob("*.py"))
        if path.stem != "__init__"
    ]


def _list(name: str, modules: list[str] | tuple[str, ...]) -> list[str]:
    return [f"{name} = [", *(f'  "{m}",' for m in modules), "]"]


def section(layer: Path = LAYER) -> str:
    by_capability = {c: capability_modules(c, layer) for c in CAPABILITIES}
    every = [m for modules in by_capability.values() for m in modules]
    rules = [m for m in every if role(m) == "rules"]
    routes = [m for m in every if role(m) == "routes"]
    capabilities = [f"tollgate.{c}" for c in CAPABILITIES]
    lines = [
        "# Written by `python -m infra.import_rules` (a unit test keeps it current); docs/decisions.md says why.",
        "[tool.importlinter]",
        'root_packages = ["tollgate"]',
        "include_external_packages = true",
        "",
        "[[tool.importlinter.contracts]]",
        'id = "rules-are-pure"',
        'name = "rules import nothing but core and other rules (no AWS, no HTTP, no store, no service)"',
        'type = "forbidden"',
        *_list("source_modules", rules),
        *_list(
            "forbidden_modules",
            [
                "tollgate.kernel",
                "tollgate.edge",
                *ROOTS,
                "functions",
                *AWS_AND_HTTP,
                *(m for m in every if role(m) != "rules"),
            ],
        ),
    ]
    for capability in CAPABILITIES:
        stores = [m for m in by_capability[capability] if role(m) == "store"]
        if not stores:
            continue
        lines += [
            "",
            "[[tool.importlinter.contracts]]",
            f'id = "{capability}-store-is-its-own"',
            f'name = "only {capability} (and the composition roots) import {capability}\'s stores"',
            'type = "protected"',
            *_list("protected_modules", stores),
            *_list("allowed_importers", [f"tollgate.{capability}", *ROOTS]),
        ]
    lines += [
        "",
        "[[tool.importlinter.contracts]]",
        'id = "nothing-below-edge-imports-edge"',
        'name = "only edge-level code (edge, routes) imports the edge or a router"',
        'type = "protected"',
        *_list("protected_modules", ["tollgate.edge", *routes]),
        *_list("allowed_importers", ["tollgate.edge", *routes, *ROOTS]),
        "",
        "[[tool.importlinter.contracts]]",
        'id = "nobody-imports-the-roots"',
        'name = "no module of the layer imports the composition roots or the functions"',
        'type = "forbidden"',
        *_list("source_modules", ["tollgate.core", "tollgate.kernel", "tollgate.edge", *capabilities]),
        *_list("forbidden_modules", [*ROOTS, "functions"]),
        "",
        "[[tool.importlinter.contracts]]",
        'id = "kernel-below-capabilities"',
        'name = "the kernel imports no capability (the plain types it stores live in core)"',
        'type = "forbidden"',
        'source_modules = ["tollgate.kernel"]',
        *_list("forbidden_modules", ["tollgate.edge", *ROOTS, *capabilities]),
        "",
        "[[tool.importlinter.contracts]]",
        'id = "core-is-the-floor"',
        'name = "core imports nothing else of tollgate"',
        'type = "forbidden"',
        'source_modules = ["tollgate.core"]',
        *_list("forbidden_modules", ["tollgate.kernel", "tollgate.edge", *ROOTS, *capabilities]),
        "",
        "[[tool.importlinter.contracts]]",
        'id = "no-circles-inside-a-package"',
        'name = "no two modules of one package import each other, directly or around a circle"',
        'type = "acyclic_siblings"',
        *_list("ancestors", ["tollgate.core", "tollgate.kernel", *capabilities]),
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(section(), end="")

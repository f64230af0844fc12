"""The import contracts in pyproject.toml cover every module of the layer: a new ``rules_x.py`` or ``store_x.py``
that the contracts do not list would escape them, so the listed modules must be exactly today's files."""

from __future__ import annotations

from pathlib import Path

from infra import import_rules

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
FIRST_LINE = "# Written by `python -m infra.import_rules`"


def test_the_contracts_in_pyproject_are_the_ones_written_from_the_files_on_disk() -> None:
    text = PYPROJECT.read_text()
    assert FIRST_LINE in text, "pyproject.toml ends with the [tool.importlinter] section of infra/import_rules.py"
    written = text[text.index(FIRST_LINE) :]
    assert written == import_rules.section(), (
        "pyproject.toml's import contracts are stale: replace its last section with `python -m infra.import_rules`"
    )


def test_a_new_rules_module_changes_the_contracts(tmp_path: Path) -> None:
    layer = tmp_path / "tollgate"
    for capability in import_rules.CAPABILITIES:
        (layer / capability).mkdir(parents=True)
        (layer / capability / "__init__.py").write_text("")
    before = import_rules.section(layer)
    (layer / "pool" / "rules_new.py").write_text("")
    (layer / "pool" / "store_new.py").write_text("")
    after = import_rules.section(layer)
    assert '"tollgate.pool.rules_new"' not in before
    rules_contract = after.split("[[tool.importlinter.contracts]]")[1]
    assert '"tollgate.pool.rules_new"' in rules_contract.split("forbidden_modules")[0]  # a source of the rules rule
    assert '"tollgate.pool.store_new"' in rules_contract.split("forbidden_modules")[1]  # and forbidden to rules
    pool_stores = next(c for c in after.split("[[tool.importlinter.contracts]]") if "pool-store-is-its-own" in c)
    assert '"tollgate.pool.store_new"' in pool_stores


def test_role_is_the_first_word_of_the_module_name() -> None:
    assert import_rules.role("tollgate.pool.rules_expiry") == "rules"
    assert import_rules.role("tollgate.events.store") == "store"

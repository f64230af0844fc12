"""SnapStart: what a restored environment must not share with the snapshot is renewed by ``restore()``."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tollgate import validation_services
from tollgate.core import snapstart
from tollgate.core.records import LicenseKeySnapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _fresh_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(snapstart, "_hooks", [])
    monkeypatch.setattr(snapstart, "_before", [])
    monkeypatch.setattr(snapstart, "_installed", False)
    validation_services.license_key_reader.cache_clear()
    yield
    validation_services.license_key_reader.cache_clear()


def test_restore_reseeds_random_so_restored_environments_differ() -> None:
    random.seed(1234)
    snapshotted = random.getstate()
    snapstart.restore()  # one environment restored from the snapshot
    first = [random.random() for _ in range(4)]
    random.setstate(snapshotted)
    snapstart.restore()  # another one, from the same memory
    second = [random.random() for _ in range(4)]
    random.setstate(snapshotted)
    assert first != second
    assert first != [random.random() for _ in range(4)]  # and neither replays the snapshot's sequence


def test_hooks_run_after_the_reseed_in_the_order_they_were_registered() -> None:
    seen: list[str] = []
    snapstart.after_restore(lambda: seen.append("first"))
    snapstart.after_restore(lambda: seen.append("second"))
    snapstart.before_snapshot(lambda: seen.append("before"))
    snapstart.restore()
    assert seen == ["first", "second"]
    snapstart.prepare()
    assert seen == ["first", "second", "before"]


class _Client:
    """Stands in for a botocore client: answers BatchGetItem with nothing found and counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def batch_get_item(self, **_: Any) -> dict[str, Any]:
        self.calls += 1
        return {"Responses": {}, "UnprocessedKeys": {}}


def test_the_validation_reader_reads_through_a_new_client_after_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[_Client] = []

    def new_client() -> _Client:
        made.append(_Client())
        return made[-1]

    monkeypatch.setattr(validation_services, "new_client", new_client)
    monkeypatch.setenv("TABLE_NAME", "tollgate-test")
    reader = validation_services.license_key_reader()
    assert reader.snapshot("tn_0000000000000000", "lk_0000000000000000") == LicenseKeySnapshot(None, None, None)
    assert [c.calls for c in made] == [1]

    snapstart.restore()

    assert len(made) == 2  # this environment's own client: its own connections and credentials
    reader.snapshot("tn_0000000000000000", "lk_0000000000000000")
    assert [c.calls for c in made] == [1, 1]


def test_install_hands_both_hooks_to_the_runtime_once(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[tuple[str, Any]] = []
    runtime = types.ModuleType("snapshot_restore_py")
    runtime.register_before_snapshot = lambda hook: registered.append(("before", hook))  # type: ignore[attr-defined]
    runtime.register_after_restore = lambda hook: registered.append(("after", hook))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime)

    assert snapstart.install() is True
    assert snapstart.install() is True
    assert registered == [("before", snapstart.prepare), ("after", snapstart.restore)]


def test_install_is_a_no_op_outside_the_lambda_runtime(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # import fails, as it does off Lambda
    assert snapstart.install() is False


def test_validate_defers_the_signing_library_to_first_use_or_to_the_snapshot() -> None:
    code = (
        "import sys; sys.path[:0] = ['functions/validate', 'shared']; import app; "
        "loaded = 'nacl.bindings' in sys.modules; "
        "from tollgate.core import snapstart; snapstart.prepare(); "
        "print(loaded, 'nacl.bindings' in sys.modules, 'cryptography' in sys.modules)"
    )
    env = dict(os.environ, TOLLGATE_DDB_ENDPOINT="http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True", "False"]  # cryptography only checks receipts (SDK, tests)

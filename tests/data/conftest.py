"""Fixtures of the data tests: isolated_env keeps the tests of data folders, downloads and files away
from the user's data, cache and network (the corpus tests keep a module-wide cache instead)."""

from __future__ import annotations

import pytest

from vaelab.data import builtin


@pytest.fixture
def isolated_env(monkeypatch, tmp_path):
    """No test sees the user's data dir, cache or the network; the system dir is an empty folder."""
    monkeypatch.delenv("VAELAB_DATA", raising=False)
    monkeypatch.setenv("VAELAB_CACHE", str(tmp_path / "cache"))
    empty = tmp_path / "system-empty"
    empty.mkdir()
    monkeypatch.setitem(builtin.SYSTEM_DIRS, "fashion-mnist", ("dataset-fashion-mnist", empty))
    unreachable = (tmp_path / "no-server").as_uri() + "/"
    monkeypatch.setitem(builtin.URLS, "mnist", (unreachable,))
    monkeypatch.setitem(builtin.URLS, "fashion-mnist", (unreachable,))

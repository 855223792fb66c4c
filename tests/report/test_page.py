"""vaelab.report.page: build_report returns the page and writes nothing into the run."""

from __future__ import annotations

import pytest
from cli_helpers import IMG

import vaelab
from vaelab.report import build_report

pytestmark = pytest.mark.usefixtures("one_thread", "isolated")


def test_build_report_writes_nothing(copy):
    r = copy("vae")
    before = sorted(p.name for p in r.iterdir())
    page = build_report(vaelab.load(r), r, vaelab.load_dataset("digits"))
    assert page.startswith("<!DOCTYPE html>") and page.count(IMG) == 8
    assert sorted(p.name for p in r.iterdir()) == before

"""The sandbox's deny list covers every copy of the grader it could find, not just the one imported."""

from __future__ import annotations

from grader.sandbox import confine


def test_an_installed_copy_beside_the_checkout_is_denied(tmp_path, monkeypatch):
    site = tmp_path / "site-packages"
    (site / "grader" / "_content" / "solutions").mkdir(parents=True)
    monkeypatch.setattr(confine, "python_roots", lambda: [str(site)])
    denied = confine.denied_paths()
    assert str((site / "grader").resolve()) in denied
    assert any(p.endswith("/solutions") for p in denied)

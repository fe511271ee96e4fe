"""Where the course content is: the repository's top-level folders, or their copy inside the package."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent  # the grader package
_CHECKOUT = _PACKAGE.parent


def content_dir(name: str) -> Path:
    """exercises/, solutions/, quizzes/ or site/: the checkout's own when run from one, else the installed copy."""
    checkout = _CHECKOUT / name if (_CHECKOUT / "pyproject.toml").is_file() else None
    for candidate in (checkout, _PACKAGE / "_content" / name):
        if candidate is not None and candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the course content folder {name!r} is not installed")


def bundle_kind() -> str | None:
    """"student", "autograder" or "gradescope" in a release bundle (grader/BUNDLE.toml); None in a checkout."""
    import tomllib

    marker = _PACKAGE / "BUNDLE.toml"
    if not marker.is_file():
        return None
    return tomllib.loads(marker.read_text(encoding="utf-8")).get("kind")

"""The user documentation stays true: every local link resolves, nothing points outside the repository,
and docs/cli.md is the current `--help` of every command."""

from __future__ import annotations

import importlib.util
import re
import unicodedata
from pathlib import Path

import pytest

from .conftest import REPO

DOCS = sorted((REPO / "docs").glob("*.md"))
PAGES = [REPO / "README.md", REPO / "CHANGELOG.md", *DOCS]
# text a user of the repository reads; none of it may point to the machine it was written on
READ_BY_USERS = [*PAGES, REPO / "sample_shapefiles" / "README.md", REPO / "tests" / "data" / "README.md"]
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", flags=re.S | re.M)


def _links(path: Path) -> list[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))  # code blocks hold no links
    return LINK.findall(text)


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = "".join(ch for ch in text if ch in " -" or unicodedata.category(ch)[0] in "LN")
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = FENCE.sub("", path.read_text(encoding="utf-8"))
    return {_slug(m) for m in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", text, flags=re.M)}


def test_the_pages_are_there():
    names = {p.name for p in DOCS}
    assert {"guide.md", "how-it-works.md", "governance.md", "living-plans.md", "bad-inputs.md", "cli.md"} <= names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_local_link_resolves(page):
    broken = []
    for target in _links(page):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        linked = (page.parent / file_part).resolve() if file_part else page
        if not linked.exists():
            broken.append(f"{target}: no such file")
            continue
        if anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            broken.append(f"{target}: no heading #{anchor} in {linked.relative_to(REPO)}")
        if REPO not in linked.parents and linked != REPO:
            broken.append(f"{target}: outside the repository")
    assert not broken, f"{page.relative_to(REPO)}: " + "; ".join(broken)


@pytest.mark.parametrize("page", READ_BY_USERS, ids=lambda p: str(p.relative_to(REPO)))
def test_no_pointer_outside_the_repository(page):
    text = page.read_text(encoding="utf-8")
    for pattern in (r"/work/", r"\.\./shared", r"shared/DOMAIN", r"shared/data", r"/home/", r"/tmp/"):
        assert not re.search(pattern, text), f"{page.relative_to(REPO)} mentions {pattern}"


def test_readme_is_short_and_starts_with_the_two_commands():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 220, "README.md is meant to stay short: move detail into docs/"
    first_blocks = re.findall(r"```bash\n(.+?)\n```", text, flags=re.S)[:2]
    assert first_blocks[0].endswith(".venv/bin/gridgeo demo")
    assert first_blocks[1].endswith(".venv/bin/python -m pytest")
    for word in ("session", "since the last", "before this change", "issue ["):
        assert word not in text.lower(), f"README.md tells history ({word!r}): it belongs in CHANGELOG.md"


def _cli_reference():
    spec = importlib.util.spec_from_file_location("cli_reference", REPO / "scripts" / "cli_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_reference_is_the_current_help():
    reference = _cli_reference()
    current = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    assert current == reference.render(), f"docs/cli.md differs from the commands' --help; regenerate it with: {reference.COMMAND}"


def test_cli_reference_covers_every_command_and_option():
    from gridgeo.cli import main

    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert f"## gridgeo {name}\n" in text
        for param in command.params:
            if getattr(param, "hidden", False):
                continue  # hidden options (benchmark timings) are not part of --help
            for opt in getattr(param, "opts", []):
                if opt.startswith("--"):
                    assert opt in text, f"{name} {opt}"

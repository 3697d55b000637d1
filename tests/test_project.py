"""Project-level checks: dependency arrows, deployment files, lint, the README."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The domain must not know about its adapters. callcenter/cli.py is a composition
# root (like web/app.py) and the one exception.
FORBIDDEN = {
    "callcenter": {
        "aiohttp",
        "panoramisk",
        "web",
        "ami",
        "config",
        "recordings",
        "pydub",
    },
    "recordings": {"aiohttp", "panoramisk", "web", "ami", "config"},
    "ami": {"aiohttp", "web", "config"},
}
EXEMPT = {ROOT / "callcenter" / "cli.py", ROOT / "ami" / "simulator"}


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_dependency_arrows_point_inward(package: str) -> None:
    offenders = []
    for path in sorted((ROOT / package).rglob("*.py")):
        if any(path == e or e in path.parents for e in EXEMPT):
            continue
        bad = imported_modules(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")

    assert offenders == []


def test_docker_compose_file_is_valid() -> None:
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (scripts/test installs it)")

    result = subprocess.run(
        [compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert set(result.stdout.split()) == {"postgres", "asterisk", "app"}


def test_code_passes_the_linter() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--quiet", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert "./scripts/start" in readme
    assert "./scripts/test" in readme
    assert (ROOT / "scripts" / "start").stat().st_mode & 0o111
    assert (ROOT / "scripts" / "test").stat().st_mode & 0o111
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")

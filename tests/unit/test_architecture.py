"""The import contract of DESIGN.md holds, and the checker really catches a violation."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def run_contract(src: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=src.parent,
        env={"PYTHONPATH": str(src), "PATH": str(Path(sys.executable).parent)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_layers_are_kept() -> None:
    result = run_contract(ROOT / "src")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contract(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "iplus", src / "iplus", ignore=shutil.ignore_patterns("__pycache__"))
    # infra must never know about the API
    (src / "iplus" / "infra" / "leak.py").write_text("from iplus.api import app\n")
    result = run_contract(src)
    assert result.returncode != 0
    assert "iplus.infra.leak -> iplus.api.app" in result.stdout

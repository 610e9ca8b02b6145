"""``iplus algo`` and ``iplus knowledge``: outputs as JSON, one-line errors, items from YAML files."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.unit.test_cli import cli_env, invoke  # noqa: F401


def test_algo_list_show_and_run(cli_env: dict[str, str]) -> None:  # noqa: F811
    code, out, _ = invoke(cli_env, "algo", "list")
    assert code == 0 and "queueing.mmc" in out and "reliability.availability" in out
    code, out, _ = invoke(cli_env, "algo", "show", "queueing.erlang_b")
    assert code == 0 and json.loads(out)["inputs"]["properties"]["servers"]["unit"] == "1"
    code, out, _ = invoke(
        cli_env,
        "algo",
        "run",
        "queueing.mmc",
        "--json",
        '{"arrival_rate": 3, "service_rate": 4, "servers": 1}',
    )
    assert code == 0, out
    assert abs(json.loads(out)["outputs"]["mean_in_system"] - 3.0) < 1e-9
    code, _, err = invoke(cli_env, "algo", "run", "queueing.mmc", "--json", '{"servers": 0}')
    assert (
        code == 1
        and err.startswith("error: the inputs of queueing.mmc 1.0.0 are not valid:")
        and len(err.splitlines()) == 1
    )
    code, _, err = invoke(cli_env, "algo", "run", "queueing.mmc", "--json", "[1")
    assert code == 1 and "is not JSON" in err
    code, _, err = invoke(cli_env, "algo", "run", "no.such", "--json", "{}")
    assert code == 1 and "algorithm no.such not found" in err


def test_knowledge_add_and_list(cli_env: dict[str, str], tmp_path: Path) -> None:  # noqa: F811
    assert invoke(cli_env, "org", "create", "Green Farm", "--role", "provider")[0] == 0
    rule = tmp_path / "rule.yaml"
    rule.write_text(
        "kind: rule\ntitle: Dry soil\ncontent:\n  when: soil moisture below 20 %\n  then: irrigate 10 mm\n"
        "tags: [Irrigation]\nattachments:\n  - {kind: algorithm, id: queueing.mmc}\n"
    )
    code, out, err = invoke(cli_env, "knowledge", "add", "--org", "Green Farm", str(rule))
    assert code == 0 and "stored rule 'Dry soil'" in out, err
    code, out, _ = invoke(cli_env, "knowledge", "list", "--org", "Green Farm", "--tag", "irrigation")
    assert code == 0 and "Dry soil" in out and "1 item(s)" in out
    # the attachment column folds on a narrow terminal; the id column never does
    assert "algorithm:queueing.mmc" in "".join(line.split("│")[-1].strip() for line in out.splitlines())
    assert re.search(r"\b[0-9a-z]{26}\b", out)
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: rule\ntitle: x\nattachments: [{kind: device_type, id: nope}]\n")
    code, _, err = invoke(cli_env, "knowledge", "add", "--org", "Green Farm", str(bad))
    assert (
        code == 1
        and "needs an object with 'when' and 'then'" in err
        and "device_type 'nope' not found" in err
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    code, _, err = invoke(cli_env, "knowledge", "add", "--org", "Green Farm", str(broken))
    assert code == 1 and "is not YAML or JSON" in err

"""``python main.py catalog import|export`` and ``db upgrade`` as an operator runs them
(bot/app/cli.py, in this process: the same click command line main.py runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.app.cli import main
from bot.shop.exchange import read_catalog
from bot.storage import migrations

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "catalog" / "demo.json"


@pytest.fixture
def shop_db(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    """DATABASE_URL names an empty database of each engine."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    return database_url


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for command in ("catalog", "db", "--drop-pending-updates"):
        assert command in out
    code, out, _ = _run(capsys, "catalog", "--help")
    assert code == 0
    assert "import" in out
    assert "export" in out


def test_db_upgrade_brings_an_empty_database_to_this_schema(
    shop_db: str, capsys: pytest.CaptureFixture[str]
):
    code, out, _ = _run(capsys, "db", "upgrade")
    assert code == 0
    assert f"the schema is at {migrations.head()}" in out


@pytest.mark.parametrize("form", ["json", "csv"])
def test_an_export_imports_back_to_the_same_catalog(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, form: str
):
    code, out, _ = _run(capsys, "catalog", "import", str(DEMO))
    assert code == 0, out
    demo = read_catalog(DEMO)
    assert f"add {len(demo.products)} products" in out
    assert "applied: the catalog is at revision 1" in out
    exported = tmp_path / f"shop.{form}"
    code, out, _ = _run(capsys, "catalog", "export", str(exported))
    assert code == 0
    assert f"{len(demo.categories)} categories, {len(demo.products)} products" in out
    assert read_catalog(exported) == demo
    # Importing the export changes nothing: the database holds exactly that catalog.
    code, out, _ = _run(capsys, "catalog", "import", str(exported))
    assert code == 0
    assert "no changes" in out
    assert "applied" not in out


def test_a_dry_run_prints_the_changes_and_writes_nothing(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    assert _run(capsys, "catalog", "import", str(DEMO))[0] == 0
    data = json.loads(DEMO.read_text())
    data["products"][0]["price"] = "99.00"
    del data["products"][1]
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(data))
    code, out, _ = _run(capsys, "catalog", "import", str(changed), "--dry-run")
    assert code == 0
    first, second = (p["id"] for p in json.loads(DEMO.read_text())["products"][:2])
    assert f"price: {first}" in out
    assert f"remove 1 ({second})" in out
    assert "dry run: nothing was changed" in out
    exported = tmp_path / "after.json"
    assert _run(capsys, "catalog", "export", str(exported))[0] == 0
    assert read_catalog(exported) == read_catalog(DEMO)


def test_a_file_with_errors_names_each_and_changes_nothing(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    assert _run(capsys, "catalog", "import", str(DEMO))[0] == 0
    data = json.loads(DEMO.read_text())
    data["products"][0]["price"] = "1.005"
    data["products"][2]["category"] = "nowhere"
    data["products"][3]["title"] = {"ru": "без английского"}
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    code, out, err = _run(capsys, "catalog", "import", str(broken))
    assert code == 2
    assert "3 problems" in err
    assert "products[0].price" in err
    assert "products[2].category" in err
    assert "products[3].title" in err
    assert "applied" not in out
    exported = tmp_path / "after.json"
    assert _run(capsys, "catalog", "export", str(exported))[0] == 0
    assert read_catalog(exported) == read_catalog(DEMO)


def test_a_file_of_another_kind_is_refused_in_one_line(
    shop_db: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
):
    sheet = tmp_path / "shop.xlsx"
    sheet.write_bytes(b"PK\x03\x04")
    code, _, err = _run(capsys, "catalog", "import", str(sheet))
    assert code == 2
    assert "shop.xlsx" in err
    assert len(err.strip().splitlines()) == 1


def test_a_database_that_does_not_answer_is_one_line_and_exit_1(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    refused_port: int,
):
    monkeypatch.setenv(
        "DATABASE_URL", f"postgresql+asyncpg://shop:pw@127.0.0.1:{refused_port}/shop"
    )
    code, _, err = _run(capsys, "catalog", "export", "out.json")
    assert code == 1
    assert "pw" not in err
    assert len(err.strip().splitlines()) == 1
    assert not Path("out.json").exists()

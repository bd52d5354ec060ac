"""`wujiang behaviours …` on a scratch database: publish a file, the default list, and show."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from cli.main import app
from tests.points.test_behaviours import behaviour_yaml, document

runner = CliRunner()


def test_default_list_is_published_once(migrated_database: str) -> None:
    empty = runner.invoke(app, ["behaviours", "show"])
    first = runner.invoke(app, ["behaviours", "publish", "--default"])
    again = runner.invoke(app, ["behaviours", "publish", "--default"])
    shown = runner.invoke(app, ["behaviours", "show", "--category", "green"])

    assert empty.exit_code == 2, empty.output
    assert "No behaviour list has been published yet" in empty.output
    assert first.exit_code == 0, first.output
    assert "behaviour list version 1: 16 behaviours" in first.output
    assert again.exit_code == 0, again.output
    assert "behaviour list version 1: 16 behaviours" in again.output
    assert shown.exit_code == 0, shown.output
    assert "garbage-sorting" in shown.output
    assert "blood-donation" not in shown.output


def test_publish_a_file_then_the_default_does_not_replace_it(
    migrated_database: str, tmp_path: Path
) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text(document(behaviour_yaml("bike-trip")), encoding="utf-8")

    published = runner.invoke(app, ["behaviours", "publish", str(listing)])
    default = runner.invoke(app, ["behaviours", "publish", "--default"])
    shown = runner.invoke(app, ["behaviours", "show"])

    assert published.exit_code == 0, published.output
    assert "version 1: 1 behaviours" in published.output
    assert default.exit_code == 0, default.output
    assert "version 1 is current" in default.output
    assert "bike-trip" in shown.output


def test_an_invalid_file_lists_its_problems(migrated_database: str, tmp_path: Path) -> None:
    listing = tmp_path / "list.yaml"
    listing.write_text(
        document(behaviour_yaml(unit="litre"), behaviour_yaml("x")), encoding="utf-8"
    )

    result = runner.invoke(app, ["behaviours", "publish", str(listing)])
    neither = runner.invoke(app, ["behaviours", "publish"])

    assert result.exit_code == 2, result.output
    assert "behaviours[0].unit" in result.output
    assert "behaviours[1].code" in result.output
    assert neither.exit_code == 2

"""NBA catalogue errors from journeylens.toml name the file, the line and the field, with a hint
(nba/catalogue.py, _toml_lines.py): an unknown touchpoint, an action listed twice, an invalid value."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeylens._toml_lines import line_of_key
from journeylens.config import Config
from journeylens.errors import ConfigError
from journeylens.nba.catalogue import CatalogueError, UnknownTouchpointError, check_touchpoints

TOML = """\
[privacy]
salt = "0123456789abcdef0123"

[nba]
baseline = "none"

[[nba.actions]]
name = "offer_chat"   # the chat
touchpoint = "delivery_chat"
cost = 2.5

[[nba.actions]]
name = "sms_link"
channel = "sms"
touchpoint = "delivery_updat"
"""


def test_line_of_key_follows_tables_arrays_of_tables_and_dotted_keys() -> None:
    assert line_of_key(TOML, ("nba", "actions", 1, "touchpoint")) == 15
    assert line_of_key(TOML, ("nba", "actions", 0, "cost")) == 10
    assert line_of_key(TOML, ("nba", "baseline")) == 5
    assert line_of_key(TOML, ("nba", "actions", 1, "cost")) == 12  # absent key: its table's header
    assert line_of_key("nba.baseline = 1\n", ("nba", "baseline")) == 1
    inline = '[nba]\nactions = [\n  {name = "a", cost = -1},\n]\n'
    assert line_of_key(inline, ("nba", "actions", 0, "cost")) == 2  # the key that opens it
    text = '[nba]\nnote = """\nbaseline = 1\n"""\nbaseline = "x"\n'
    assert line_of_key(text, ("nba", "baseline")) == 5  # not inside the multi-line string
    assert line_of_key(TOML, ("voc", "x")) == 0


def test_unknown_touchpoint_in_journeylens_toml_names_file_line_and_field(tmp_path: Path) -> None:
    path = tmp_path / "journeylens.toml"
    path.write_text(TOML)
    settings = Config.load(path).nba
    with pytest.raises(UnknownTouchpointError) as err:
        check_touchpoints(settings, ["delivery_chat", "delivery_update"], path)
    assert f"{path}, line 15: field 'nba.actions[1].touchpoint'" in str(err.value)
    assert "delivery_update" in (err.value.hint or "")


def test_an_action_listed_twice_names_the_second_entry(tmp_path: Path) -> None:
    path = tmp_path / "journeylens.toml"
    path.write_text(TOML.replace('"sms_link"', '"offer_chat"').replace("delivery_updat", "delivery_chat"))
    with pytest.raises(CatalogueError, match=r"line 13: field 'nba.actions\[1\].name'.*listed twice"):
        check_touchpoints(Config.load(path).nba, ["delivery_chat"], path)


def test_an_invalid_value_in_journeylens_toml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "journeylens.toml"
    path.write_text(TOML.replace("cost = 2.5", "cost = -1"))
    with pytest.raises(ConfigError, match=r"journeylens.toml, line 10: field 'nba.actions.0.cost'") as err:
        Config.load(path)
    assert err.value.hint

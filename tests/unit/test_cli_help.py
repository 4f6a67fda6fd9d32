"""``collectbridge --help`` as a newcomer reads it: plain text, every option explained, its
default shown."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from plugin.cli import build_parser, main


def parsers(
    parser: argparse.ArgumentParser, name: str = "collectbridge"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from parsers(sub, f"{name} {sub_name}")


def flat(text: str) -> str:
    return " ".join(text.split())


ALL = list(parsers(build_parser()))


@pytest.mark.parametrize(("name", "parser"), ALL, ids=[name for name, _ in ALL])
def test_help_is_plain_text(name: str, parser: argparse.ArgumentParser) -> None:
    text = parser.format_help()
    assert "``" not in text and ":func:" not in text and "`" not in text, text


@pytest.mark.parametrize(("name", "parser"), ALL, ids=[name for name, _ in ALL])
def test_every_option_has_a_help_text_and_shows_its_default(
    name: str, parser: argparse.ArgumentParser
) -> None:
    text = flat(parser.format_help())
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        label = "/".join(action.option_strings) or action.dest
        assert action.help and action.help is not argparse.SUPPRESS, f"{name}: {label}"
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                assert choice.help, f"{name}: subcommand {choice.dest} has no help"
            continue
        if action.option_strings and action.default not in (None, False):
            assert f"(default: {action.default})" in text, f"{name}: {label}"


def test_serve_defaults_are_the_documented_ones() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port) == ("127.0.0.1", 8080)


def test_top_level_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    assert stopped.value.code == 0
    out = capsys.readouterr().out
    assert "``" not in out
    for command in ("serve", "worker", "migrate", "jobs", "sandbox", "demo"):
        assert command in out

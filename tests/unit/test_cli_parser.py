"""The console script's help: every command, positional argument and option says what it
is, and what `serve` says of its projection is true of each way it runs."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

from api.cli.parser import build_parser


def _parsers(
    parser: argparse.ArgumentParser, path: str = "outdial"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_argument_and_option_has_help() -> None:
    missing = []
    for path, parser in _parsers(build_parser()):
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                missing += [
                    f"{path} {choice.dest}" for choice in action._choices_actions if not choice.help
                ]
            if not action.help:
                missing.append(f"{path} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def _help_of(*command: str) -> str:
    parser = build_parser()
    for name in command:
        (sub,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return " ".join(parser.format_help().split())


def test_serve_says_where_its_projection_runs_with_each_flag() -> None:
    said = _help_of("serve")
    assert "in-process projections" not in said
    assert "--workers N" in said
    assert "--no-run-projections" in said


def test_batch_size_says_what_a_batch_is_and_its_bounds() -> None:
    said = _help_of("import")
    assert "--batch-size N targets written in one atomic write, 1..1000 (default 1000)" in said

"""``kneeseg-train``'s sub-commands: one module each under trainer/commands, listed explicitly in trainer.cli."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from trainer import cli, commands

COMMANDS_DIR = Path(commands.__file__).parent
HELPERS = {"__init__", "common"}


def test_every_command_module_is_listed_and_every_listed_module_is_a_command() -> None:
    modules = {p.stem for p in COMMANDS_DIR.glob("*.py")} - HELPERS
    assert {m.__name__.rsplit(".", 1)[1] for m in cli.COMMANDS} == modules
    for module in cli.COMMANDS:
        assert callable(module.register) and callable(module.run), module.__name__


def test_the_parser_is_built_from_the_modules_and_stays_short() -> None:
    assert len(inspect.getsource(cli.build_parser).splitlines()) < 25
    sub = next(a for a in cli.build_parser()._actions if a.dest == "command")
    names = list(sub.choices)
    study = ["synth", "prepare", "nnunet", "unet", "export", "quantize", "evaluate"]
    assert names[: len(study)] == study and names[-2:] == ["env", "demo-model"]


@pytest.mark.parametrize(
    ("argv", "run"),
    [
        (["synth", "out", "--cases", "2"], "trainer.commands.synth"),
        (["env", "--workdir", "w"], "trainer.commands.env"),
        (["evaluate", "--out", "o", "--package", "p"], "trainer.commands.evaluate"),
        (["demo-model", "--out", "o"], "trainer.commands.demo_model"),
    ],
)
def test_each_sub_command_runs_its_own_module(argv: list[str], run: str) -> None:
    args = cli.build_parser().parse_args(argv)
    assert args.func.__module__ == run and args.func.__name__ == "run"


def test_the_env_command_prints_the_nnunet_folders(tmp_path: Path, capsys) -> None:
    assert cli.main(["env", "--workdir", str(tmp_path)]) == 0
    assert str(tmp_path) in capsys.readouterr().out


def test_evaluate_follows_each_packages_default_mirroring_unless_told() -> None:
    parse = cli.build_parser().parse_args
    assert parse(["evaluate", "--out", "o"]).tta is None  # the manifest's default_tta, as the app
    assert parse(["evaluate", "--out", "o", "--tta"]).tta is True
    assert parse(["evaluate", "--out", "o", "--no-tta"]).tta is False

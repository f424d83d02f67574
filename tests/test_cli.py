"""The CLI translates: answers, JSON, batch mode, exit codes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli


@pytest.fixture
def run(corpus_assistant, model_cache):
    data_dir = str(corpus_assistant.settings.data_dir)

    def invoke(*args: str, input: str | None = None):
        runner = CliRunner()
        env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
        return runner.invoke(cli, ["--data-dir", data_dir, *args], input=input, env=env)

    return invoke


def test_ask_prints_answer_then_numbered_sources(run) -> None:
    result = run("ask", "What is Fastify's killer feature?")
    assert result.exit_code == 0, result.output
    answer, _, sources = result.output.partition("Sources")
    assert "[1]" in answer and "Schema-first" in answer
    assert "[1] Modern Backend Frameworks 2025" in sources and "› Fastify" in sources


def test_ask_json_is_the_answer_object(run) -> None:
    result = run("ask", "--json", "What is Hono?")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["question"] == "What is Hono?" and not data["refused"]
    assert data["citations"][0]["section"].endswith("Hono")


def test_batch_mode_one_json_per_line(run) -> None:
    result = run("ask", "--json", input="What is Hono?\n\nWhat's the capital of France?\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert [x["refused"] for x in lines] == [False, True]


def test_batch_mode_reports_bad_lines_and_keeps_going(run) -> None:
    result = run("ask", "--json", input="What is Hono?\n" + "x" * 2000 + "\nWhat is Elysia?\n")
    assert result.exit_code == 2
    lines = [json.loads(x) for x in result.output.splitlines()]
    assert len(lines) == 3 and "error" in lines[1] and "limit" in lines[1]["error"]
    assert lines[2]["citations"]


@pytest.mark.parametrize("question", ["", "   ", "y" * 5000])
def test_bad_question_exits_2_with_a_clear_message(run, question) -> None:
    result = run("ask", question)
    assert result.exit_code == 2
    assert "Error:" in result.output and ("empty" in result.output or "limit" in result.output)


def test_chat_keeps_context_for_follow_ups(run) -> None:
    result = run("chat", input="Which ORM is the default for Python?\nand for Rust?\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "SQLAlchemy" in result.output
    assert "Diesel" in result.output or "SeaORM" in result.output


def test_first_question_ingests_the_bundled_corpus(tmp_path, model_cache) -> None:
    runner = CliRunner()
    env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
    result = runner.invoke(
        cli, ["--data-dir", str(tmp_path / "fresh"), "ask", "--json", "What is Elysia?"], env=env
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["citations"]


def test_a_first_ingest_prints_no_library_debug_lines(tmp_path, model_cache) -> None:
    # bm25s sets its own logger to DEBUG when imported; a fresh process shows whether
    # that reaches the terminal ("DEBUG bm25s: Building index from tokens").
    env = {**os.environ, "STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "stackguide"), "--data-dir", str(tmp_path / "d"),
         "ask", "What is Hono?"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Hono" in done.stdout
    assert "DEBUG" not in done.stderr, done.stderr


def test_python_dash_m_and_the_console_script_show_the_same_commands() -> None:
    import re

    def commands(argv: list[str]) -> set[str]:
        out = subprocess.run([*argv, "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        listed = out.stdout.split("Commands:")[1]
        return set(re.findall(r"^  (\w[\w-]*)", listed, re.M))

    script = Path(sys.executable).with_name("stackguide")
    every = {"ask", "chat", "ingest", "sources", "remove", "serve", "eval", "slack", "feedback"}
    assert commands([sys.executable, "-m", "assistant.cli"]) == every
    assert commands([str(script)]) == every

"""Check that every ``irkit ...`` command in README.md and docs/*.md parses against the real CLI.

Usage::

    .venv/bin/python scripts/check_docs.py            # every command: sub-commands, options, arguments
    .venv/bin/python scripts/check_docs.py --list     # the commands found, one a line
    .venv/bin/python scripts/check_docs.py --run [--timeout S] [docs/dense.md ...]   # run them (slow)

A command is a line of a fenced code block (sh, bash, console or no language) that
runs ``irkit`` (also as ``.venv/bin/irkit`` or ``python -m irkit``, after ``VAR=value``
assignments, ``nice``/``time``/``flock``, or after ``&&``, ``;`` or ``|``); a
trailing ``\\`` joins lines and ``#`` starts a comment. Each is parsed by the click
command that ``irkit`` builds, without running it: every sub-command must exist,
every option must be one of that command's (with its value), required options must
be given, no argument may be left over, and values of choices and numbers must
convert. Paths are not checked (the files a command reads come from the commands
before it). Inline code spans of the prose that start with ``irkit`` are checked too,
as fragments: their sub-commands and options must exist (``a|b`` checks each
alternative; ``...`` is skipped). Exit status 1 and one line per bad command
(FILE:LINE: command: reason).

``--run`` runs the lines of the code blocks that hold an irkit command, in order,
in a fresh ``git clone`` of the committed tree (one per Markdown file), and lists
those that fail: it trains and indexes as the docs do, so it takes minutes to hours
and is not part of the test suite.
"""

from __future__ import annotations

import itertools
import re
import shlex
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHELL_BLOCKS = {"", "sh", "bash", "shell", "console", "zsh"}
WRAPPERS = {"nice": 1, "time": 0, "exec": 0, "env": 0, "timeout": 1, "flock": 1}  # name: arguments it takes
IRKIT = re.compile(r"^(?:\S*/)?irkit$")
PYTHON = re.compile(r"^(?:\S*/)?python(?:3(?:\.\d+)?)?$")
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@dataclass(frozen=True)
class Command:
    file: str
    line: int
    argv: tuple[str, ...]  # after `irkit`
    shell: str = ""  # the whole line it stands in (for --run)

    def __str__(self) -> str:
        return "irkit " + shlex.join(self.argv)


def doc_files(root: Path = ROOT) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def _code_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, logical line) of the shell code blocks of a Markdown text."""
    fence, logical, start = None, "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if fence is None:
            m = re.match(r"^(`{3,}|~{3,})\s*([\w+-]*)", stripped)
            if m:
                fence = (m.group(1), m.group(2).lower())
            continue
        if stripped.startswith(fence[0]):
            fence = None
            continue
        if fence[1] not in SHELL_BLOCKS:
            continue
        if not logical:
            start = number
            stripped = stripped.removeprefix("$ ")
        if stripped.endswith("\\"):
            logical += stripped[:-1] + " "
            continue
        yield start, logical + stripped
        logical = ""


def _irkit_argv(words: list[str]) -> list[str] | None:
    """The arguments after ``irkit`` in one simple command, or None when it does not run irkit."""
    i = 0
    while i < len(words):
        w = words[i]
        if ASSIGNMENT.match(w):
            i += 1
        elif w in WRAPPERS:
            i += 1
            while i < len(words) and words[i].startswith("-"):  # the wrapper's own options
                i += 1 + (words[i] in ("-n", "-s", "-k", "-w"))
            i += WRAPPERS[w] if w in ("flock",) else 0
        else:
            break
    if i < len(words) and IRKIT.match(words[i]):
        return words[i + 1 :]
    if i + 2 < len(words) and PYTHON.match(words[i]) and words[i + 1 : i + 3] == ["-m", "irkit"]:
        return words[i + 3 :]
    return None


def commands(files: list[Path] | None = None, root: Path = ROOT) -> list[Command]:
    """Every irkit command of the shell code blocks of ``files`` (README.md and docs/*.md)."""
    out = []
    for path in doc_files(root) if files is None else files:
        for number, line in _code_lines(path.read_text(encoding="utf-8")):
            try:
                lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|")
                lexer.whitespace_split = True
                lexer.commenters = "#"
                words = list(lexer)
            except ValueError:  # an unbalanced quote: not a command line
                continue
            simple: list[str] = []
            for word in [*words, ";"]:
                if word and set(word) <= set(";&|"):
                    argv = _irkit_argv(simple)
                    if argv is not None:
                        out.append(Command(str(path.relative_to(root)), number, tuple(argv), line))
                    simple = []
                else:
                    simple.append(word)
    return out


def fragments(files: list[Path] | None = None, root: Path = ROOT) -> list[Command]:
    """The inline ``irkit ...`` code spans of the prose (outside code blocks): a command, or part of one."""
    out = []
    for path in doc_files(root) if files is None else files:
        text = path.read_text(encoding="utf-8")
        prose = re.sub(r"^(`{3,}|~{3,}).*?^\1", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S | re.M)
        for m in re.finditer(r"(?<!`)`(irkit\s[^`]+)`", prose):
            try:
                words = shlex.split(m.group(1).replace("\\|", "|"))
            except ValueError:
                continue
            number = prose.count("\n", 0, m.start()) + 1
            words = [w for w in words[1:] if w not in ("...", "…")]
            # `irkit train irgan|lambdamart`: each alternative is checked
            choices = [w.split("|") if re.fullmatch(r"[\w.-]+(\|[\w.-]+)+", w) else [w] for w in words]
            for argv in itertools.product(*choices):
                out.append(Command(str(path.relative_to(root)), number, tuple(argv)))
    return out


def problem(argv: list[str] | tuple[str, ...], fragment: bool = False) -> str | None:
    """Why ``irkit ARGV`` would not parse (one line), or None when it parses.

    A ``fragment`` (an inline mention such as ``irkit rank --pipeline`` or
    ``--workers N``) needs only existing sub-commands and options: required options,
    arguments and a last option's value may be left out, values are placeholders, and
    so is a sub-command in capitals (``irkit COMMAND --help``).
    """
    import typer
    from typer import _click

    from irkit.cli.app import app

    command = typer.main.get_command(app)
    ctx = _click.Context(command, info_name="irkit")
    args = list(argv)
    try:
        while True:
            parser = command.make_parser(ctx)
            try:
                opts, rest, _ = parser.parse_args(args=list(args))
            except _click.exceptions.BadOptionUsage as e:
                if fragment and "requires an argument" in e.message and args[-1] == e.option_name:
                    opts, rest, _ = parser.parse_args(args=list(args[:-1]))
                else:
                    raise
            if "help" in opts or opts.get("version"):
                return None
            if not hasattr(command, "resolve_command"):
                break
            if not rest:  # a group alone prints its help
                return None
            if fragment and re.fullmatch(r"[A-Z][A-Z_]*", rest[0]):  # `irkit COMMAND --help`: any command
                return None
            name, sub, rest = command.resolve_command(ctx, rest)
            if sub is None:
                return f"no such command {name!r}"
            command, args = sub, rest
            ctx = _click.Context(command, info_name=name, parent=ctx)
        for param in command.get_params(ctx):
            value = opts.get(param.name)
            if value is None:
                if param.required and param.envvar is None and not fragment:
                    return f"missing {'/'.join(param.opts) if param.param_type_name == 'option' else param.name}"
                continue
            kind = getattr(param, "type_descriptor", None)  # typer's: choices, numbers, paths ...
            if kind is not None and not kind.is_path and kind.file_annotation is None and not fragment:
                param.get_runtime_param().coerce(value, param=param, ctx=ctx)  # a choice or a number converts
        if rest and not ctx.allow_extra_args and not fragment:
            return f"unexpected extra argument(s): {' '.join(rest)}"
    except _click.exceptions.UsageError as e:
        return e.format_message().splitlines()[0]
    return None


def check(root: Path = ROOT) -> tuple[int, list[str]]:
    """``(commands and fragments checked, one line per one that does not parse)``."""
    found = [(c, False) for c in commands(root=root)] + [(c, True) for c in fragments(root=root)]
    bad = [f"{c.file}:{c.line}: {c}: {why}" for c, frag in found if (why := problem(c.argv, frag)) is not None]
    return len(found), bad


def run(files: list[Path], timeout: float) -> list[str]:
    """Run the code-block lines with irkit commands of ``files``, in order, in a fresh clone.

    The clone is of the committed tree (``git clone``), with this checkout's
    ``.venv`` linked in and ``irkit`` on PATH; each file starts from a new clone, as a
    reader would. Returns one line per command that failed.
    """
    import os
    import subprocess
    import tempfile
    import time

    failed = []
    for path in files:
        lines = {(c.line, c.shell): None for c in commands([path])}  # a line with two commands runs once
        if not lines:
            continue
        with tempfile.TemporaryDirectory(prefix="irkit-docs-") as tmp:
            clone, shims = Path(tmp) / "irkit", Path(tmp) / "bin"
            subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
            (clone / ".venv").symlink_to(ROOT / ".venv")
            shims.mkdir()
            (shims / "irkit").write_text(f'#!/bin/sh\nexec "{ROOT}/.venv/bin/python" -m irkit "$@"\n')
            (shims / "irkit").chmod(0o755)
            env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(clone)}
            for number, shell in lines:
                where = f"{path.relative_to(ROOT)}:{number}: {shell}"
                start = time.perf_counter()
                try:
                    r = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=clone, env=env,
                                       capture_output=True, text=True, timeout=timeout)  # fmt: skip
                    why = (
                        None
                        if r.returncode == 0
                        else f"exit {r.returncode}: "
                        + ((r.stderr.strip() or r.stdout.strip() or "no output").splitlines()[-1])
                    )
                except subprocess.TimeoutExpired:
                    why = f"still running after {timeout:g} s"
                print(f"{where}: {why or 'ok'} ({time.perf_counter() - start:.0f} s)", file=sys.stderr, flush=True)
                if why:
                    failed.append(f"{where}: {why}")
    return failed


def main(argv: list[str]) -> int:
    if argv[:1] == ["--run"]:
        timeout = 1800.0
        names = argv[1:]
        if names[:1] == ["--timeout"] and len(names) > 1:
            timeout, names = float(names[1]), names[2:]
        files = [ROOT / n for n in names] if names else doc_files()
        failed = run(files, timeout)
        for line in failed:
            print(line, flush=True)
        return 1 if failed else 0
    if argv not in ([], ["--list"]):
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        print("usage: check_docs.py [--list | --run [--timeout S] [FILE.md ...]]", file=sys.stderr)
        return 2
    if argv == ["--list"]:
        for c in commands():
            print(f"{c.file}:{c.line}: {c}")
        for c in fragments():
            print(f"{c.file}:{c.line}: {c}  (inline)")
        return 0
    n, bad = check()
    for line in bad:
        print(line, flush=True)
    print(
        f"{n} irkit commands and inline mentions in README.md and docs/*.md; {len(bad)} do not parse", file=sys.stderr
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main(sys.argv[1:]))

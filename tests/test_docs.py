"""Every irkit command in README.md and docs/*.md parses against the real CLI (scripts/check_docs.py)."""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _checker():
    spec = importlib.util.spec_from_file_location("check_docs", ROOT / "scripts" / "check_docs.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_docs"] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


def test_every_command_in_the_readme_and_docs_parses():
    n, bad = _checker().check()
    assert n > 50, "the checker found too few commands: is it reading README.md and docs/?"
    assert not bad, "commands in the docs that the CLI does not take:\n" + "\n".join(bad)


def test_the_checker_finds_what_does_not_parse(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text(
        "Run `irkit rank --pipeline` or `irkit train irgan|lambdamart --bogus N` (see `irkit NAME --help`).\n\n"
        "```sh\n"
        "irkit index cacm --index indexes/cacm   # fine\n"
        "IRKIT_QUIET=1 nice -n 10 irkit rank --index indexes/cacm --topics cacm \\\n"
        "    --output runs/a.run --engine local\n"
        "irkit rank --index i --topics cacm --output x.run --hitz 5\n"
        "irkit frobnicate runs/a.run\n"
        "cd /tmp && .venv/bin/python -m irkit eval\n"
        "irkit rank --index i --topics cacm --output x.run --hits many\n"
        "irkit shard indexes/cacm extra --shards 2 --output s\n"
        "```\n\n"
        "```python\nirkit rank --nothing-checked-in-python\n```\n"
    )
    (tmp_path / "docs" / "a.md").write_text("```\n$ irkit eval runs/a.run --qrels cacm --measurez AP\n```\n")
    n, bad = _checker().check(root=tmp_path)
    assert n == 12  # 4 inline (one per alternative), 7 in the sh block, 1 in docs/a.md; none from python
    expected = [
        ("README.md:1: irkit train irgan --bogus N", "No such option: --bogus"),
        ("README.md:1: irkit train lambdamart --bogus N", "No such option: --bogus"),
        ("README.md:7: irkit rank", "No such option: --hitz"),
        ("README.md:8: irkit frobnicate", "No such command 'frobnicate'"),
        ("README.md:9: irkit eval", "missing runs"),
        ("README.md:10: irkit rank", "'--hits'"),
        ("README.md:11: irkit shard", "unexpected extra argument(s): extra"),
        ("docs/a.md:2: irkit eval", "No such option: --measurez"),
    ]
    assert len(bad) == len(expected), "\n".join(bad)
    for line, (where, why) in zip(sorted(bad), sorted(expected), strict=True):
        assert line.startswith(where) and why in line, (line, where, why)

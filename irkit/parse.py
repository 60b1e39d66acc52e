"""The text form of a pipeline, as ``irkit rank --pipeline`` takes it.

:func:`parse` reads an expression over stage names with Python's operators
(:mod:`irkit.pipeline`) and builds the stage; ``repr`` of a stage prints the same
syntax back. Nothing is evaluated: a small recursive-descent parser reads the tokens
and looks each name up in the model registry (:mod:`irkit.registry`).
"""

from __future__ import annotations

import re
from typing import Any

from irkit.errors import IrkitError
from irkit.pipeline import RRF, FeatureUnion, Run, Sum, Transformer, identity

__all__ = ["parse"]

# Parentheses and calls nest at most this deep: the parser descends six calls per
# parenthesis (200 ended in RecursionError); a ** chain is read in a loop.
MAX_NESTING = 100


def parse(text: str, context: Any = None, engine: Any = None) -> Transformer:
    """A pipeline from its text form, as ``irkit rank --pipeline`` takes it::

        bm25 % 100 >> (0.7 * identity + 0.3 * desm(model=models/desm))
        bm25 % 100 >> desm(model=models/desm) ^ bm25
        rrf(bm25, docnade(faiss=indexes/cran.faiss), k=60)
        run(path=runs/bm25.run) % 50 >> irgan(model=models/irgan, use=g)

    Names are registered models (:mod:`irkit.registry`) whose ``key=value`` options go
    to their options dataclass, plus ``identity``, ``rrf(...)`` and ``run(path=...)``.
    Operators and precedence are Python's (``**`` > ``*``, ``%`` > ``+`` > ``>>`` > ``^``). No
    code is evaluated: a small recursive-descent parser reads the expression.
    ``context`` (a :class:`irkit.registry.Context`) gives the stages ``--index``,
    ``--hits``, ``--threads`` (and ``--qrels`` for options given as ``auto``). With ``engine``
    (``irkit rank --pipeline ... --engine ray``), each registered model is an
    :class:`irkit.engine.EngineStage` on it; the operators run here.
    """
    return _Parser(text, context, engine).parse()


class _Parser:
    TOKEN = re.compile(r"\s*(?:(?P<op>>>|\*\*|[*%+(),=^])|(?P<str>'[^']*'|\"[^\"]*\")|(?P<word>[A-Za-z0-9_./~:\-]+))")

    def __init__(self, text: str, context: Any, engine: Any = None):
        self.text, self.context, self.engine = text, context, engine
        self.tokens: list[tuple[str, str, int]] = []
        pos, end = 0, len(text.rstrip())  # (a slice per token was quadratic in the text's length)
        while pos < end:
            m = self.TOKEN.match(text, pos)
            if not m or m.end() == pos:
                self.fail("unexpected character", pos + len(text[pos:]) - len(text[pos:].lstrip()))
            kind = m.lastgroup or "op"
            value = m.group(kind)
            if kind == "str":
                kind, value = "word", value[1:-1]
            self.tokens.append((kind, value, m.start(kind) if m.lastgroup else pos))
            pos = m.end()
        self.i = 0
        self.depth = 0

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            self.fail(f"nested more than {MAX_NESTING} deep (parentheses and calls)")

    def fail(self, message: str, pos: int | None = None) -> None:
        if pos is None:
            pos = self.tokens[self.i][2] if self.i < len(self.tokens) else len(self.text)
        shown = self.text if len(self.text) <= 120 else f"{self.text[:100]}... ({len(self.text):,} characters)"
        raise IrkitError(f"--pipeline: {message} at column {pos + 1} of {shown!r}")

    def peek(self, value: str | None = None) -> bool:
        if self.i >= len(self.tokens):
            return False
        kind, tok, _ = self.tokens[self.i]
        return value is None or (kind == "op" and tok == value)

    def take(self, value: str | None = None) -> str:
        if not self.peek(value) or (value is None and self.tokens[self.i][0] != "word"):
            self.fail(f"expected {value!r}" if value else "expected a name or a number")
        self.i += 1
        return self.tokens[self.i - 1][1]

    def parse(self) -> Transformer:
        if not self.tokens:
            self.fail("empty pipeline", 0)
        out = self.concat()
        if self.i < len(self.tokens):
            self.fail(f"unexpected {self.tokens[self.i][1]!r}")
        return self.stage(out)

    def stage(self, x: Any) -> Transformer:
        if not isinstance(x, Transformer):
            self.fail(f"{x!r} is a number where a stage belongs")
        return x

    def concat(self) -> Any:
        out = self.chain()
        while self.peek("^"):
            self.take("^")
            out = self.stage(out) ^ self.stage(self.chain())
        return out

    def chain(self) -> Any:
        out = self.sum()
        while self.peek(">>"):
            self.take(">>")
            out = self.stage(out) >> self.stage(self.sum())
        return out

    def sum(self) -> Any:
        operands = [self.product()]
        while self.peek("+"):
            self.take("+")
            operands.append(self.product())
        return operands[0] if len(operands) == 1 else Sum.of([self.stage(x) for x in operands])

    def product(self) -> Any:
        out = self.power()
        while self.peek("*") or self.peek("%"):
            op = self.tokens[self.i][1]
            self.i += 1
            right = self.power()
            if op == "%":
                if not isinstance(right, float) or right != int(right):
                    self.fail("a rank cutoff (%) takes a whole number")
                out = self.stage(out) % int(right)
            elif isinstance(out, float) and isinstance(right, float):
                out = out * right
            elif isinstance(out, float):
                out = out * self.stage(right)
            else:
                if not isinstance(right, float):
                    self.fail("stages are weighted by numbers; two stages cannot be multiplied")
                out = self.stage(out) * right
        return out

    def power(self) -> Any:
        # Read in a loop and built as one flat union (what Python's right-associative
        # chain of ** gives, since FeatureUnion flattens): no deep object, no quadratic copying.
        operands = [self.atom()]
        while self.peek("**"):
            self.take("**")
            operands.append(self.atom())
        return operands[0] if len(operands) == 1 else FeatureUnion.of([self.stage(x) for x in operands])

    def atom(self) -> Any:
        if self.peek("("):
            self.take("(")
            self.nest()
            out = self.concat()
            self.take(")")
            self.depth -= 1
            return out
        word = self.take()
        try:
            return float(word)
        except ValueError:
            pass
        args: list[Any] = []
        kwargs: dict[str, str] = {}
        if self.peek("("):
            self.take("(")
            self.nest()
            while not self.peek(")"):
                if (
                    self.i + 1 < len(self.tokens)
                    and self.tokens[self.i + 1][1] == "="
                    and self.tokens[self.i][0] == "word"
                ):
                    key = self.take()
                    self.take("=")
                    kwargs[key] = self.take()
                else:
                    args.append(self.concat())
                if not self.peek(")"):
                    self.take(",")
            self.take(")")
            self.depth -= 1
        return self.make(word, args, kwargs)

    def make(self, name: str, args: list[Any], kwargs: dict[str, str]) -> Transformer:
        if name == "rrf":
            unknown = set(kwargs) - {"k"}
            if unknown:
                self.fail(f"rrf takes stages and k=, not {', '.join(sorted(unknown))}")
            k = kwargs.get("k", "60")
            try:
                return RRF([self.stage(a) for a in args], k=float(k))
            except ValueError:  # not a number (an impossible k raises InputError, a ValueError too)
                self.fail(f"rrf's k is a non-negative number, not {k!r}")
        if args:
            self.fail(f"{name} takes key=value options, not positional arguments")
        if name == "identity":
            return identity
        if name == "run":
            if set(kwargs) != {"path"}:
                self.fail("run takes one option, path=FILE")
            return Run(kwargs["path"])
        from irkit import registry

        if self.engine is not None and getattr(self.engine, "name", self.engine) != "local":
            from irkit.engine import EngineStage

            return EngineStage(name, kwargs, self.context, self.engine)
        return registry.build(name, kwargs, self.context)

"""Safe arithmetic expressions for derived properties: parsed with ``ast``, never evaluated as code.

Only numbers, device keys (names), arithmetic, comparisons, ``and``/``or``/``not``, ``a if c else b``
and a whitelist of math functions are accepted; the tree is turned into nested closures.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

Env = Mapping[str, float]
Node = Callable[[Env], float]
MAX_LENGTH = 500
MAX_NODES = 200

FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    # name: (function, min args, max args)
    "abs": (abs, 1, 1),
    "min": (min, 2, 8),
    "max": (max, 2, 8),
    "round": (lambda x, digits=0.0: round(x, int(digits)), 1, 2),
    "sqrt": (math.sqrt, 1, 1),
    "exp": (math.exp, 1, 1),
    "log": (math.log, 1, 2),
    "log10": (math.log10, 1, 1),
    "sin": (math.sin, 1, 1),
    "cos": (math.cos, 1, 1),
    "tan": (math.tan, 1, 1),
    "atan2": (math.atan2, 2, 2),
    "hypot": (math.hypot, 2, 2),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "pow": (math.pow, 2, 2),
}
_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: math.pow,  # float power: overflows at once instead of building a huge integer
}
_COMPARE: dict[type[ast.cmpop], Callable[[float, float], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


@dataclass(frozen=True)
class Expression:
    """A compiled expression: the keys it reads and the function computing it."""

    source: str
    inputs: frozenset[str]
    evaluate: Node


def compile_expression(source: str) -> Expression:
    """Parse and compile ``source``; raises ``ValueError`` naming what is not allowed."""
    if len(source) > MAX_LENGTH:
        raise ValueError(f"expression is longer than {MAX_LENGTH} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"expression is not valid syntax: {exc.msg} at column {exc.offset}") from exc
    except (RecursionError, MemoryError) as exc:
        raise ValueError("expression is too deeply nested") from exc
    nodes = sum(1 for _ in ast.walk(tree))
    if nodes > MAX_NODES:
        raise ValueError(f"expression has {nodes} parts, more than {MAX_NODES}")
    names: set[str] = set()
    fn = _compile(tree.body, names)
    return Expression(source, frozenset(names), fn)


def _compile(node: ast.expr, names: set[str]) -> Node:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise ValueError(f"only numbers are allowed as constants, not {node.value!r}")
        number = float(node.value)
        return lambda env: number
    if isinstance(node, ast.Name):
        key = node.id
        names.add(key)
        return lambda env: env[key]
    if isinstance(node, ast.BinOp):
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ValueError(f"operator {type(node.op).__name__} is not allowed")
        left, right = _compile(node.left, names), _compile(node.right, names)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        operand = _compile(node.operand, names)
        if isinstance(node.op, ast.USub):
            return lambda env: -operand(env)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not):
            return lambda env: float(not operand(env))
        raise ValueError(f"operator {type(node.op).__name__} is not allowed")
    if isinstance(node, ast.Compare):
        return _compare(node, names)
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, names) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: float(all(p(env) for p in parts))
        return lambda env: float(any(p(env) for p in parts))
    if isinstance(node, ast.IfExp):
        test, body, other = (_compile(n, names) for n in (node.test, node.body, node.orelse))
        return lambda env: body(env) if test(env) else other(env)
    if isinstance(node, ast.Call):
        return _call(node, names)
    raise ValueError(f"{type(node).__name__} is not allowed in an expression")


def _compare(node: ast.Compare, names: set[str]) -> Node:
    ops = []
    for op in node.ops:
        fn = _COMPARE.get(type(op))
        if fn is None:
            raise ValueError(f"comparison {type(op).__name__} is not allowed")
        ops.append(fn)
    terms = [_compile(node.left, names)] + [_compile(c, names) for c in node.comparators]

    def compare(env: Env) -> float:
        values = [t(env) for t in terms]
        return float(all(op(values[i], values[i + 1]) for i, op in enumerate(ops)))

    return compare


def _call(node: ast.Call, names: set[str]) -> Node:
    if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
        allowed = ", ".join(sorted(FUNCTIONS))
        raise ValueError(f"only these functions may be called: {allowed}")
    if node.keywords:
        raise ValueError("functions take positional arguments only")
    fn, low, high = FUNCTIONS[node.func.id]
    if not low <= len(node.args) <= high:
        raise ValueError(f"{node.func.id}() takes {low} to {high} arguments, not {len(node.args)}")
    args = [_compile(a, names) for a in node.args]
    return lambda env: float(fn(*(a(env) for a in args)))

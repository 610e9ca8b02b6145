"""Rules as data: the rule model (pydantic), parsing JSON or YAML, and problems listed with their path."""

from __future__ import annotations

import json
import math
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)

from iplus.core.errors import InvalidInput
from iplus.engines.stream.expr import compile_expression

Severity = Literal["critical", "major", "minor", "warning", "indeterminate"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning", "indeterminate")
Op = Literal[">", ">=", "<", "<=", "==", "!="]
Key = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_][A-Za-z0-9_.:-]*$")]
Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")]
KINDS = ("threshold", "window", "derived", "sequence", "anomaly")
MAX_RULES = 500
# values of a document once YAML aliases are expanded: a few aliases can otherwise stand for billions
MAX_VALUES = 100_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Where(_Strict):
    """Which devices a rule applies to: all given conditions must hold (none given: every device)."""

    type: str | None = Field(default=None, max_length=200, description="device type name or id")
    tags: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=20)
    devices: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=1000)

    def is_everything(self) -> bool:
        """Whether no condition is given."""
        return self.type is None and not self.tags and not self.devices


class _Action(_Strict):
    on: Literal["raise", "clear"] = "raise"


class CommandAction(_Action):
    """Invoke an action of a device (the alarm's device unless ``device`` is given)."""

    type: Literal["command"]
    action: str = Field(min_length=1, max_length=200)
    input: Any = None
    device: str | None = Field(default=None, max_length=64)
    timeout_s: float = Field(default=30.0, ge=1, le=86_400)


class WebhookAction(_Strict):
    """POST the alarm as JSON to a URL."""

    type: Literal["webhook"]
    on: Literal["raise", "clear"] = "raise"
    url: str = Field(min_length=8, max_length=2000)
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=5)
    headers: dict[str, Annotated[str, Field(max_length=1000)]] = Field(default_factory=dict)

    @field_validator("url")
    @classmethod
    def _http(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        return url


class MqttAction(_Action):
    """Publish the alarm as JSON on an MQTT topic through the platform's connection."""

    type: Literal["mqtt"]
    topic: str = Field(min_length=1, max_length=500)
    qos: Literal[0, 1] = 1

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str) -> str:
        if "+" in topic or "#" in topic or topic.startswith("$") or "\x00" in topic:
            raise ValueError("a topic to publish on has no wildcards, no NUL and does not start with $")
        return topic


class ServiceAction(_Action):
    """Call an action the platform registered under ``name`` (e.g. starting a service system)."""

    type: Literal["service"]
    name: str = Field(min_length=1, max_length=200)
    params: dict[str, Any] = Field(default_factory=dict)


Action = Annotated[CommandAction | WebhookAction | MqttAction | ServiceAction, Field(discriminator="type")]


class _Rule(_Strict):
    name: Name
    description: str = Field(default="", max_length=2000)
    enabled: bool = True
    where: Where = Field(default_factory=Where)


class _Alarming(_Rule):
    severity: Severity = "major"
    actions: list[Action] = Field(default_factory=list, max_length=20)


class ThresholdRule(_Alarming):
    """Raise when ``key op value``; clear only past ``clear`` (hysteresis), after ``for_s`` held."""

    kind: Literal["threshold"]
    key: Key
    op: Op
    value: float = Field(allow_inf_nan=False)
    clear: float | None = Field(default=None, allow_inf_nan=False)
    for_s: float = Field(default=0.0, ge=0, le=86_400)

    @model_validator(mode="after")
    def _hysteresis(self) -> ThresholdRule:
        if self.clear is None:
            return self
        if self.op in ("==", "!="):
            raise ValueError("clear: clear (hysteresis) needs an ordering operator: >, >=, < or <=")
        if self.op in (">", ">=") and self.clear > self.value:
            raise ValueError(f"clear: with {self.op} the clear value must not be above value ({self.value})")
        if self.op in ("<", "<=") and self.clear < self.value:
            raise ValueError(f"clear: with {self.op} the clear value must not be below value ({self.value})")
        return self


class WindowRule(_Alarming):
    """Aggregate ``key`` over tumbling or sliding windows per device or per group; test the aggregate."""

    kind: Literal["window"]
    key: Key
    window: Literal["tumbling", "sliding"]
    size_s: float = Field(gt=0, le=31 * 86_400)
    slide_s: float | None = Field(default=None, gt=0)
    aggregate: Literal["count", "min", "max", "avg", "sum"]
    group_by: Literal["device", "group"] = "device"
    op: Op
    value: float = Field(allow_inf_nan=False)
    lateness_s: float = Field(default=0.0, ge=0, le=86_400, description="allowed lateness (watermark lag)")

    @model_validator(mode="after")
    def _shape(self) -> WindowRule:
        if self.window == "tumbling":
            if self.slide_s is not None and self.slide_s != self.size_s:
                raise ValueError("slide_s: a tumbling window has no slide_s (it slides by its size)")
            return self
        if self.slide_s is None:
            raise ValueError("slide_s: a sliding window needs slide_s")
        if self.slide_s > self.size_s:
            raise ValueError("slide_s: must not be larger than size_s")
        ratio = self.size_s / self.slide_s
        if not math.isclose(ratio, round(ratio), abs_tol=1e-9):
            raise ValueError("size_s: must be a whole multiple of slide_s")
        if round(ratio) > 1000:
            raise ValueError("size_s: at most 1000 times slide_s (each reading updates that many windows)")
        return self


class DerivedRule(_Rule):
    """A calculated property ``output`` from an arithmetic expression over the device's keys."""

    kind: Literal["derived"]
    output: Key
    expression: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _expression(self) -> DerivedRule:
        try:
            compiled = compile_expression(self.expression)
        except ValueError as exc:
            raise ValueError(f"expression: {exc}") from exc
        if not compiled.inputs:
            raise ValueError("expression: it reads no device key, so it would never be computed")
        if self.output in compiled.inputs:
            raise ValueError(f"output: {self.output!r} must not be one of the expression's own inputs")
        return self


class Step(_Strict):
    """One event of a sequence: a condition on one key."""

    key: Key
    op: Op
    value: float = Field(allow_inf_nan=False)


class SequenceRule(_Alarming):
    """Raise when step A then B (then C) happen on the same device within ``within_s`` (CEP)."""

    kind: Literal["sequence"]
    steps: list[Step] = Field(min_length=2, max_length=3)
    within_s: float = Field(gt=0, le=7 * 86_400)


class AnomalyRule(_Alarming):
    """Score each reading of ``key`` with an online detector; raise when the score reaches ``threshold``."""

    kind: Literal["anomaly"]
    key: Key
    model: str = Field(min_length=1, max_length=200)
    threshold: float = Field(allow_inf_nan=False)
    clear: float | None = Field(default=None, allow_inf_nan=False)
    warmup: int = Field(default=0, ge=0, le=1_000_000, description="readings learned before scoring")

    @model_validator(mode="after")
    def _clear(self) -> AnomalyRule:
        if self.clear is not None and self.clear > self.threshold:
            raise ValueError("clear: must not be above threshold")
        return self


Rule = Annotated[
    ThresholdRule | WindowRule | DerivedRule | SequenceRule | AnomalyRule, Field(discriminator="kind")
]
AlarmingRule = ThresholdRule | WindowRule | SequenceRule | AnomalyRule
_RULE: TypeAdapter[Rule] = TypeAdapter(Rule)
_FIELDS = {"clear", "slide_s", "size_s", "expression", "output"}


def problem(path: str, message: str) -> dict[str, str]:
    """One problem of a rule document."""
    return {"path": path or "(document)", "message": message}


def _path(prefix: str, loc: tuple[int | str, ...]) -> str:
    parts: list[str] = [prefix] if prefix else []
    for i, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
            continue
        rule_tag = i == 0 and part in KINDS
        action_tag = i >= 2 and loc[i - 2] == "actions" and part in ("command", "webhook", "mqtt", "service")
        if rule_tag or action_tag or part.startswith("function-"):
            continue  # the tags of the unions and validator names are not fields
        parts.append(f".{part}" if parts else part)
    return "".join(parts)


def check_rule(data: Any, prefix: str = "") -> tuple[Rule | None, list[dict[str, str]]]:
    """The rule in ``data`` or the list of its problems, each with its path."""
    if not isinstance(data, dict):
        return None, [problem(prefix, "a rule is a mapping (JSON object) with at least name and kind")]
    if data.get("kind") not in KINDS:
        where = f"{prefix}.kind" if prefix else "kind"
        return None, [problem(where, f"kind must be one of {', '.join(KINDS)} (got {data.get('kind')!r})")]
    try:
        return _RULE.validate_python(data), []
    except ValidationError as exc:
        found = []
        for e in exc.errors():
            message = str(e.get("msg", "invalid"))
            message = message.removeprefix("Value error, ")
            path = _path(prefix, tuple(e.get("loc", ())))
            field, _, rest = message.partition(": ")
            if rest and field in _FIELDS:
                # a check across fields names the field it blames as "field: message"
                path, message = (f"{path}.{field}" if path else field), rest
            found.append(problem(path or prefix, message))
        return None, found


def load_document(raw: bytes | str, content_type: str = "") -> Any:
    """Decode a rule document: JSON, or YAML (a superset) unless the type says JSON."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    if "json" in content_type:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"the rule document is not valid JSON: {exc}",
                errors=[problem("(document)", f"not valid JSON: {exc.msg} at line {exc.lineno}")],
            ) from exc
        except RecursionError as exc:
            raise _too_deep() from exc
    try:
        document = yaml.safe_load(text)
    except RecursionError as exc:
        raise _too_deep() from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = f"not valid YAML: {getattr(exc, 'problem', None) or 'cannot be parsed'}{where}"
        raise InvalidInput(f"the rule document is {what}", errors=[problem("(document)", what)]) from exc
    try:
        size = _expanded(document, {}, set())
    except RecursionError as exc:
        raise _too_deep() from exc
    if size > MAX_VALUES:
        what = f"more than {MAX_VALUES:,} values once its aliases are expanded"
        raise InvalidInput(f"the rule document has {what}", errors=[problem("(document)", what)])
    return document


def _too_deep() -> InvalidInput:
    what = "nested too deeply"
    return InvalidInput(f"the rule document is {what}", errors=[problem("(document)", what)])


def _expanded(value: Any, sizes: dict[int, int], open_: set[int]) -> int:
    """How many values ``value`` holds with every shared (aliased) part counted each time it is used."""
    if not isinstance(value, dict | list):
        return 1
    key = id(value)
    if key in open_:
        what = "a YAML alias refers to itself (a recursive structure)"
        raise InvalidInput(f"the rule document has {what}", errors=[problem("(document)", what)])
    known = sizes.get(key)
    if known is not None:
        return known
    open_.add(key)
    items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
    total = 1
    for item in items:
        total += _expanded(item, sizes, open_)
        if total > MAX_VALUES:
            break  # enough to refuse it; sizes stay exact up to the limit
    open_.discard(key)
    sizes[key] = total
    return total


def check_document(document: Any) -> tuple[list[Rule], list[dict[str, str]]]:
    """Every rule of a document (one rule, a list, or ``{"rules": [...]}``) and every problem."""
    if isinstance(document, dict) and "rules" in document and "kind" not in document:
        items, base = document["rules"], "rules"
        if not isinstance(items, list):
            return [], [problem("rules", "rules must be a list")]
    elif isinstance(document, list):
        items, base = document, ""
    elif isinstance(document, dict):
        single, issues = check_rule(document)
        return ([single] if single is not None else []), issues
    else:
        return [], [problem("(document)", "a rule document is a rule, a list of rules or {rules: [...]}")]
    if len(items) > MAX_RULES:
        return [], [problem(base, f"at most {MAX_RULES} rules per document")]
    rules: list[Rule] = []
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        prefix = f"{base}[{i}]"
        rule, found = check_rule(item, prefix)
        problems += found
        if rule is not None:
            if rule.name in seen:
                problems.append(problem(f"{prefix}.name", f"name {rule.name!r} appears twice"))
            seen.add(rule.name)
            rules.append(rule)
    return rules, problems


def parse_rules(raw: bytes | str, content_type: str = "") -> list[Rule]:
    """The rules of a document; ``InvalidInput`` listing every problem otherwise."""
    rules, problems = check_document(load_document(raw, content_type))
    if problems:
        raise_problems(problems)
    return rules


def raise_problems(problems: list[dict[str, str]]) -> None:
    """Raise ``InvalidInput`` whose detail names the first problems and whose ``errors`` lists all."""
    listed = "; ".join(f"{p['path']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    raise InvalidInput(f"the rule is not valid: {listed}{more}", errors=problems)


def dump_rule(rule: Rule) -> dict[str, Any]:
    """The rule as JSON-ready data (defaults included, so a stored rule reads back the same)."""
    return rule.model_dump(mode="json")


def rule_from_stored(data: dict[str, Any]) -> Rule:
    """A rule from its stored JSON (already validated once)."""
    return _RULE.validate_python(data)

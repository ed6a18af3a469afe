"""YAML to plain values that remember their line numbers.

We compose the YAML node graph ourselves (``yaml.compose`` with the safe loader) instead of
letting PyYAML construct Python objects, for two reasons: every mapping and value keeps the
line it came from, so a problem can be reported as ``file:line``; and scalars stay the
strings the author wrote (YAML 1.1 would turn an option labelled ``Yes`` into ``True``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_NODES = 50_000  # guards against alias bombs ("billion laughs")
# libyaml's loader when PyYAML was built with it: the same nodes and line marks, about ten
# times faster than the pure-Python one (the library is parsed at every start and `doctor`).
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL_TAG = "tag:yaml.org,2002:null"


class YamlShapeError(ValueError):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class LMap:
    """A YAML mapping: ordered string keys, with the line of the mapping and of each key."""

    line: int
    items: dict[str, Any] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.items.get(key, default)

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


@dataclass
class LList:
    line: int
    items: list[Any] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def parse(text: str) -> Any:
    """Parse one YAML document. Raises ``YamlShapeError`` (with a line) on any problem."""
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlShapeError(line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlShapeError(1, f"not valid YAML: {exc}") from None
    if root is None:
        return None
    budget = [MAX_NODES]
    return _convert(root, budget, depth=0)


def _convert(node: yaml.Node, budget: list[int], depth: int) -> Any:
    budget[0] -= 1
    line = node.start_mark.line + 1
    if budget[0] < 0 or depth > 50:
        raise YamlShapeError(line, "document too large or too deeply nested")
    if isinstance(node, yaml.ScalarNode):
        return None if node.tag == _NULL_TAG else str(node.value)
    if isinstance(node, yaml.SequenceNode):
        out = LList(line)
        for child in node.value:
            out.items.append(_convert(child, budget, depth + 1))
            out.lines.append(child.start_mark.line + 1)
        return out
    if isinstance(node, yaml.MappingNode):
        mapping = LMap(line)
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _NULL_TAG:
                raise YamlShapeError(key_line, "mapping keys must be plain text")
            key = str(key_node.value)
            if key in mapping.items:
                raise YamlShapeError(key_line, f"duplicate key '{key}'")
            mapping.items[key] = _convert(value_node, budget, depth + 1)
            mapping.key_lines[key] = key_line
        return mapping
    raise YamlShapeError(line, "unsupported YAML node")  # pragma: no cover

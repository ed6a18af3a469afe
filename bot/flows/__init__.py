"""The offline troubleshooting flows (the seed's ``Tree``): format, loading, checks, matching.

Built-in flows live in ``bot/flows/library/*.yaml``; ``docs/flows.md`` describes the format.
"""

from bot.flows.check import all_paths, check_flow, check_paths
from bot.flows.loader import load_flow_file, load_flow_text, load_library
from bot.flows.match import MatchResult, match_flow, rank_flows
from bot.flows.model import (
    ActionNode,
    EscalateNode,
    FixNode,
    Flow,
    FlowLibrary,
    FlowProblem,
    Node,
    QuestionNode,
)

__all__ = [
    "ActionNode",
    "EscalateNode",
    "FixNode",
    "Flow",
    "FlowLibrary",
    "FlowProblem",
    "MatchResult",
    "Node",
    "QuestionNode",
    "all_paths",
    "check_flow",
    "check_paths",
    "load_flow_file",
    "load_flow_text",
    "load_library",
    "match_flow",
    "rank_flows",
]

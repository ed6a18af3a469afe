"""Validate manifest.yml against Slack's published manifest JSON Schema (draft-07).

Usage: python scripts/validate_manifest.py [SCHEMA_DIR] [MANIFEST]
SCHEMA_DIR defaults to scripts/manifest-schema (a vendored copy of slackapi/manifest-schema,
MIT, with its LICENSE), so the check runs in any clone.
The schema's $ref URLs to GitHub are resolved to the local copies; nothing is fetched.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml
from jsonschema import Draft7Validator
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SCHEMAS = ROOT / "scripts" / "manifest-schema"


def registry(schema_dir: Path) -> tuple[dict, Registry]:  # type: ignore[type-arg]
    top = json.loads((schema_dir / "manifest.schema.json").read_text())
    resources = []
    for path in schema_dir.glob("manifest.schema*.json"):
        resource = Resource.from_contents(json.loads(path.read_text()))
        resources.append((path.name, resource))
    reg = Registry()
    for name, resource in resources:
        reg = reg.with_resource(name, resource)
        for tag in _tags(top):
            reg = reg.with_resource(
                f"https://raw.githubusercontent.com/slackapi/manifest-schema/{tag}/schemas/{name}",
                resource,
            )
    return top, reg


def _tags(top: dict) -> set[str]:  # type: ignore[type-arg]
    text = json.dumps(top)
    tags = set()
    marker = "manifest-schema/"
    for part in text.split(marker)[1:]:
        tags.add(part.split("/", 1)[0])
    return tags


def validate(manifest_path: Path, schema_dir: Path) -> list[str]:
    top, reg = registry(schema_dir)
    manifest = yaml.safe_load(manifest_path.read_text())
    validator = Draft7Validator(top, registry=reg)
    errors = []
    for err in sorted(validator.iter_errors(manifest), key=lambda e: list(e.path)):
        where = "/".join(str(p) for p in err.path) or "(top)"
        errors.append(f"{manifest_path.name}: {where}: {err.message[:300]}")
        for sub in (err.context or [])[:5]:
            errors.append(f"    {'/'.join(str(p) for p in sub.path)}: {sub.message[:200]}")
    return errors


def main(argv: list[str]) -> int:
    schema_dir = Path(argv[1]) if len(argv) > 1 else DEFAULT_SCHEMAS
    manifest = Path(argv[2]) if len(argv) > 2 else ROOT / "manifest.yml"
    if not (schema_dir / "manifest.schema.json").exists():
        print(f"manifest schema not found in {schema_dir}", file=sys.stderr)
        return 2
    errors = validate(manifest, schema_dir)
    for line in errors:
        print(line)
    if errors:
        return 1
    print(f"ok: {manifest.name} is valid against Slack's manifest schema")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

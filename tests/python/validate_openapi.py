"""Validates the gateway's OpenAPI document against the OpenAPI 3.1 schema and
checks that it describes every expected operation.

usage: validate_openapi.py OPENAPI_JSON EXPECTED_JSON
EXPECTED_JSON is a list of {"method": "get", "path": "/v1/..."} entries.
Prints "openapi ok: N operations" on success; exits non-zero otherwise.
"""

import json
import sys

from openapi_spec_validator import validate
from openapi_spec_validator.validation import OpenAPIV31SpecValidator


def main() -> int:
    with open(sys.argv[1], encoding="utf-8") as f:
        document = json.load(f)
    with open(sys.argv[2], encoding="utf-8") as f:
        expected = json.load(f)

    if document.get("openapi") != "3.1.0":
        print(f"not OpenAPI 3.1.0: {document.get('openapi')!r}")
        return 1
    # Raises with the first problem; list them all for a useful failure message.
    errors = list(OpenAPIV31SpecValidator(document).iter_errors())
    for error in errors[:20]:
        print(f"schema error: {error.message} at {list(error.absolute_path)}")
    if errors:
        return 1
    validate(document)

    paths = document["paths"]
    missing = [
        f"{e['method'].upper()} {e['path']}"
        for e in expected
        if e["method"] not in paths.get(e["path"], {})
    ]
    for entry in missing:
        print(f"missing operation: {entry}")
    if missing:
        return 1

    operation_ids = [op["operationId"] for item in paths.values() for op in item.values()]
    duplicates = {i for i in operation_ids if operation_ids.count(i) > 1}
    if duplicates:
        print(f"duplicate operationIds: {sorted(duplicates)}")
        return 1
    print(f"openapi ok: {len(operation_ids)} operations")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Validate Kubernetes objects strictly against one Kubernetes version's OpenAPI schemas, with
whatever kubernetes-validate the interpreter finds; tests/test_schemas_current.py runs it with
the schema lane's own packages (requirements-schemas-current.txt) and nothing else on the path.

stdin:  {"version": "1.36.4", "objects": [{"name": ..., "manifest": {...}}, ...]}
stdout: {"kubernetes_validate": <its version>, "modules": {<package>: <file it was loaded from>},
         "results": [{"name": ..., "schema": <the minor validated against> or null,
                      "error": <why the object is not valid> or null}, ...]}

kubernetes-validate picks the newest schema not newer than the minor asked for
(kubernetes_validate/utils.py `validate`) and returns that minor, which is reported as is.
"""

from __future__ import annotations

import json
import sys

import jsonschema
import kubernetes_validate
import referencing
import yaml
from kubernetes_validate import utils


def check(manifest: dict, version: str) -> tuple[str | None, str | None]:
    """(the minor it was validated against, the error or None)."""
    try:
        return kubernetes_validate.validate(manifest, version, strict=True), None
    except kubernetes_validate.ValidationError as error:
        path = ".".join(str(part) for part in error.path) or "(top)"
        return error.version, f"{error.message} at {path}"
    except kubernetes_validate.SchemaNotFoundError as error:
        return None, error.message
    except utils.VersionNotSupportedError as error:
        return None, error.message
    except Exception as error:  # any other failure is a finding too, never a pass
        return None, f"{type(error).__name__}: {error}"


def main() -> None:
    request = json.load(sys.stdin)
    results = []
    for item in request["objects"]:
        schema, error = check(item["manifest"], request["version"])
        results.append({"name": item["name"], "schema": schema, "error": error})
    json.dump(
        {
            "kubernetes_validate": kubernetes_validate.__version__,
            "modules": {
                module.__name__: module.__file__
                for module in (kubernetes_validate, jsonschema, referencing, yaml)
            },
            "results": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()

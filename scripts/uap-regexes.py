#!/usr/bin/env python3
"""Regenerates crates/sessionwarden-tower/src/client/uap-regexes.json from uap-core's regexes.yaml.

The device summary needs only the browser and OS parsers, so the device parsers (the larger
half of the file) are left out. Run it when uap-core publishes new rules:

    python3 scripts/uap-regexes.py path/to/uap-core/regexes.yaml path/to/uap-core/package.json

The output is compact JSON (the library already depends on serde_json; no YAML parser needed
at run time) with the uap-core version recorded for provenance.
"""
import json
import sys

import yaml


def main() -> None:
    regexes, package = sys.argv[1], sys.argv[2]
    with open(regexes, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    with open(package, encoding="utf-8") as f:
        version = json.load(f)["version"]
    out = {
        "uap_core_version": version,
        "user_agent_parsers": data["user_agent_parsers"],
        "os_parsers": data["os_parsers"],
    }
    target = "crates/sessionwarden-tower/src/client/uap-regexes.json"
    with open(target, "w", encoding="utf-8") as f:
        json.dump(out, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()

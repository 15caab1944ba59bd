"""Keep in the layer only the botocore data of the AWS services the functions call.

botocore ships the models of every AWS service (over 400 folders, more than half of the layer),
and each cold start pays for them twice when it creates its first client: the loader walks every
service folder to check the name it was given, and parses endpoints.json, which lists the
endpoints of every service in every region. The functions call five services (the fifth,
pinpoint-sms-voice-v2, only when the fallback provider is on), so the layer keeps those five folders
and their entries in endpoints.json; the partitions (regions, DNS suffixes,
defaults) stay whole, so endpoint resolution for the kept services is the same as with the full
data (tests/unit/test_layer_trim.py checks it region by region).

The kept services' models are then stored as botocore reads them fastest: without their
documentation (the text of the API reference, about three quarters of a model: botocore reads it
only to write docstrings and help) and not gzipped. Creating a client parses its service's whole model
and endpoint rules; for DynamoDB that was 2 ms of gunzip and 2.5 ms of JSON for every cold start.

The cost of the trade: a client for any other service fails at creation with botocore's
UnknownServiceError. A function only ever creates clients in sms_pipeline/wiring.py, and the same
test fails when that file names a service that is not in SERVICES. The X-Ray SDK's centralised
sampler would create an "xray" client, but only outside Lambda: in Lambda it samples locally.

Usage: python trim_botocore.py <site-packages folder holding botocore/>  (layers/common/Makefile)
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path
from typing import Any

SERVICES = frozenset({"dynamodb", "pinpoint-sms-voice-v2", "secretsmanager", "sns", "sqs"})
_DOCUMENTATION = frozenset({"documentation", "documentationUrl"})


def trim(site: Path, services: frozenset[str] = SERVICES) -> None:
    data = site / "botocore" / "data"
    folders = {entry.name for entry in data.iterdir() if entry.is_dir()}
    missing = services - folders
    if missing:
        raise SystemExit(f"botocore in {site} has no data for {sorted(missing)}: is SERVICES spelt right?")
    prefixes = set(services) | {_endpoint_prefix(data / name) for name in services}
    for name in folders - services:
        shutil.rmtree(data / name)
    endpoints_file = data / "endpoints.json"
    endpoints = json.loads(endpoints_file.read_text(encoding="utf-8"))
    for partition in endpoints["partitions"]:
        partition["services"] = {key: value for key, value in partition["services"].items() if key in prefixes}
    endpoints_file.write_text(json.dumps(endpoints, separators=(",", ":")), encoding="utf-8")
    for name in services:
        for packed in (data / name).glob("*/*.json.gz"):
            with gzip.open(packed, "rt", encoding="utf-8") as handle:
                content = without_documentation(json.load(handle))
            packed.with_suffix("").write_text(json.dumps(content, separators=(",", ":")), encoding="utf-8")
            packed.unlink()


def without_documentation(node: Any) -> Any:
    """The model without the text botocore keeps for docstrings. Only string values go: a member
    that happens to be called "documentation" is a dict, and stays."""
    if isinstance(node, dict):
        return {
            key: without_documentation(value)
            for key, value in node.items()
            if not (key in _DOCUMENTATION and isinstance(value, str))
        }
    if isinstance(node, list):
        return [without_documentation(value) for value in node]
    return node


def _endpoint_prefix(service: Path) -> str:
    """The name endpoints.json files the service under (its model's endpointPrefix)."""
    latest = max(version for version in service.iterdir() if _model(version) is not None)
    model = _model(latest)
    assert model is not None
    opener = gzip.open if model.suffix == ".gz" else open
    with opener(model, "rt", encoding="utf-8") as handle:
        return str(json.load(handle)["metadata"]["endpointPrefix"])


def _model(version: Path) -> Path | None:
    for name in ("service-2.json.gz", "service-2.json"):
        if (version / name).is_file():
            return version / name
    return None


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    trim(Path(sys.argv[1]))

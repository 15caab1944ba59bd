"""The layer's trimmed botocore data (layers/common/trim_botocore.py) against the full data.

The trim must not change where a kept service's calls go, and must keep every service the
functions create a client for; a service missing from the layer would only show in Lambda.
"""

from __future__ import annotations

import ast
import gzip
import json
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import botocore
import botocore.session
import pytest
import trim_botocore
from botocore.config import Config
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
CLIENT_CODE = [
    *sorted((ROOT / "layers" / "common" / "sms_pipeline").rglob("*.py")),
    *sorted(ROOT.glob("functions/*/app.py")),
]
PARTITIONS = ("aws", "aws-cn", "aws-us-gov")


@pytest.fixture(scope="module")
def trimmed_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A layer's botocore/data after the trim: the kept services plus two it must drop."""
    site = tmp_path_factory.mktemp("layer")
    source = Path(botocore.__file__).parent / "data"
    target = site / "botocore" / "data"
    target.mkdir(parents=True)
    for entry in source.iterdir():
        if entry.is_file():
            shutil.copy2(entry, target)
        elif entry.name in trim_botocore.SERVICES | {"s3", "lambda"}:
            shutil.copytree(entry, target / entry.name)
    trim_botocore.trim(site)
    return target


def _session(data: Path | None) -> botocore.session.Session:
    session = botocore.session.get_session()
    if data is not None:  # only the trimmed data, as in the layer
        session.register_component(
            "data_loader", Loader(extra_search_paths=[str(data)], include_default_search_paths=False)
        )
    return session


def _resolution(session: botocore.session.Session, service: str, region: str, **config: Any) -> tuple[Any, ...]:
    client = session.create_client(
        service, region_name=region, aws_access_key_id="x", aws_secret_access_key="x", config=Config(**config)
    )
    signer = client._request_signer  # type: ignore[attr-defined]  # where the resolved signing region and name live
    return (client.meta.endpoint_url, client.meta.partition, signer._region_name, signer._signing_name)


def test_every_service_a_function_creates_a_client_for_is_kept_in_the_layer() -> None:
    named: set[str] = set()
    for path in CLIENT_CODE:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "client":
                first = node.args[0] if node.args else None
                assert isinstance(first, ast.Constant), (
                    f"{path.name}:{node.lineno}: a client for a service named at run time"
                )
                assert isinstance(first.value, str), f"{path.name}:{node.lineno}"
                named.add(first.value)
    assert named == trim_botocore.SERVICES, "layers/common/trim_botocore.py SERVICES must list exactly these"


@pytest.mark.parametrize("service", sorted(trim_botocore.SERVICES))
def test_a_kept_service_resolves_every_region_as_with_the_full_data(trimmed_data: Path, service: str) -> None:
    full, trimmed = _session(None), _session(trimmed_data)
    regions = [region for partition in PARTITIONS for region in full.get_available_regions(service, partition)]
    assert len(regions) > 20
    for region in regions:
        assert _resolution(trimmed, service, region) == _resolution(full, service, region), region
    for variant in ({"use_fips_endpoint": True}, {"use_dualstack_endpoint": True}):
        assert _resolution(trimmed, service, "us-east-1", **variant) == _resolution(
            full, service, "us-east-1", **variant
        )


def test_the_trim_drops_every_other_service(trimmed_data: Path) -> None:
    assert {entry.name for entry in trimmed_data.iterdir() if entry.is_dir()} == trim_botocore.SERVICES
    with pytest.raises(UnknownServiceError):
        _session(trimmed_data).create_client("s3", region_name="eu-west-1")
    assert (trimmed_data / "endpoints.json").stat().st_size < 100_000  # was over a megabyte


@pytest.mark.parametrize("service", sorted(trim_botocore.SERVICES))
def test_a_kept_services_model_is_the_full_model_less_its_documentation(trimmed_data: Path, service: str) -> None:
    full = Loader().load_service_model(service, "service-2")
    trimmed = Loader(extra_search_paths=[str(trimmed_data)], include_default_search_paths=False).load_service_model(
        service, "service-2"
    )

    def documented(node: Any) -> Any:
        """`node` without the strings botocore reads only to write docstrings, found here
        independently of trim_botocore: a "documentation" or "documentationUrl" key whose value
        is a string."""
        if isinstance(node, dict):
            for key in ("documentation", "documentationUrl"):
                if isinstance(node.get(key), str):
                    del node[key]
            for value in node.values():
                documented(value)
        elif isinstance(node, list):
            for value in node:
                documented(value)
        return node

    assert "documentation" in json.dumps(full)
    assert trimmed == documented(full)
    assert '"documentation"' not in json.dumps(trimmed)


def test_the_kept_services_data_is_stored_unpacked_and_smaller(trimmed_data: Path) -> None:
    assert not list(trimmed_data.rglob("*.gz"))
    full = Path(botocore.__file__).parent / "data" / "dynamodb" / "2012-08-10" / "service-2.json.gz"
    with gzip.open(full) as handle:
        unpacked = len(handle.read())
    assert (trimmed_data / "dynamodb" / "2012-08-10" / "service-2.json").stat().st_size < unpacked / 3


def test_a_client_on_the_trimmed_data_builds_the_same_request(trimmed_data: Path) -> None:
    """Serialisation reads the model's shapes: the same call must put the same bytes on the wire."""
    bodies = []
    for session in (_session(None), _session(trimmed_data)):
        client: DynamoDBClient = session.create_client(  # type: ignore[assignment]
            "dynamodb", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        captured: list[bytes] = []

        def capture(request: Any, captured: list[bytes] = captured, **_: Any) -> None:
            captured.append(request.body)
            raise _Sent

        client.meta.events.register("before-send.dynamodb.PutItem", capture)
        with pytest.raises(_Sent):
            client.put_item(
                TableName="jobs",
                Item={"pk": {"S": "a"}, "n": {"N": "1"}, "m": {"M": {"x": {"BOOL": True}}}},
                ConditionExpression="attribute_not_exists(pk)",
            )
        bodies.append(captured[0])
    assert bodies[0] == bodies[1]


class _Sent(Exception):
    pass

"""The init any handler pays that is built on this project's libraries and does this job.

Imported (and timed) by bench/coldstart.py as the floor to compare a handler's import with: boto3,
requests, Powertools' Logger, Metrics, Tracer (X-Ray, patching botocore and requests), Parameters,
the batch utility for a function on an SQS event source, and the clients each function uses on
every invocation. BENCH_CLIENTS names the clients, BENCH_BATCH=1 adds the batch utility, and
BENCH_IMPORTS names the other library modules the function's init imports (the send function's
gsm0338, boto3's DynamoDB type serializer): bench/coldstart.py refuses the comparison when the
handler's init and this one do not load the same modules from the layer. BENCH_LIBRARIES=0 leaves
out everything but boto3 and the clients: the least any function that makes its clients at init
pays, whatever else it is built on. An empty BENCH_CLIENTS makes no client (and so no
SecretsProvider, which would make one of its own): the least a function built on these libraries
pays if it leaves its clients to its first invocation. It runs as the handlers' init runs, with
the garbage collector off (sms_pipeline/init_phase.py), so that the comparison is of the code on
top of the libraries.
"""

from sms_pipeline.init_phase import init_phase

with init_phase():
    import os

    import boto3

    names = [name for name in os.environ["BENCH_CLIENTS"].split(",") if name]
    clients = {name: boto3.client(name) for name in names}  # type: ignore[call-overload]

    if os.environ.get("BENCH_LIBRARIES", "1") == "1":
        import importlib

        import requests
        from aws_lambda_powertools import Logger, Metrics, Tracer
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        for module in filter(None, os.environ.get("BENCH_IMPORTS", "").split(",")):
            importlib.import_module(module)

        if os.environ.get("BENCH_BATCH") == "1":
            from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

            processor = BatchProcessor(event_type=EventType.SQS)

        logger, metrics, tracer = Logger(), Metrics(), Tracer(patch_modules=["botocore", "requests"])
        secrets = SecretsProvider(boto3_client=clients["secretsmanager"]) if clients else None
        session = requests.Session()

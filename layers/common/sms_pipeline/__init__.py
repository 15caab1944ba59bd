"""Shared code of the SMS pipeline: the domain, the Retarus client, storage and publishing.

Deployed as a Lambda layer (`layers/common`), installed into `.venv` for tests and local runs.
"""

"""AWS clients, built once per container by a service's bootstrap (never at import).

botocore directly: boto3's session adds nothing the functions use, and importing boto3 also imports
s3transfer (~0.1 s of the webhook intake's cold start). One botocore session per process: a new
session loads its data files again, about 80 ms a client against a few ms from a warm one. Sessions
are not thread-safe (the local stack builds clients from several threads), so creating a client holds
a lock; the clients themselves are.
"""

from __future__ import annotations

import threading
from typing import Any

import botocore.session
from botocore.config import Config

from shared.settings import AwsSettings

# Fail fast on the webhook path: platforms wait 5 s at most (Shopify) and retry on 5xx anyway.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
STANDARD = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 5})


_lock = threading.Lock()
_session: list[botocore.session.Session] = []  # built on the first client, never at import


def client(service: str, aws: AwsSettings, config: Config = STANDARD) -> Any:
    with _lock:
        if not _session:
            _session.append(botocore.session.get_session())
        return _session[0].create_client(
            service,
            region_name=aws.region,
            endpoint_url=aws.endpoint_url,
            config=config,
        )

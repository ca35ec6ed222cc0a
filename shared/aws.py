"""boto3 clients, built once per container by a service's bootstrap (never at import)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

from shared.settings import AwsSettings

# Fail fast on the webhook path: platforms wait 5 s at most (Shopify) and retry on 5xx anyway.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
STANDARD = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 5})


def client(service: str, aws: AwsSettings, config: Config = STANDARD) -> Any:
    return boto3.session.Session().client(
        service,  # type: ignore[call-overload]
        region_name=aws.region,
        endpoint_url=aws.endpoint_url,
        config=config,
    )

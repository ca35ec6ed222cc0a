"""AWS clients, built once per container by a service's bootstrap (never at import).

botocore directly: boto3's session adds nothing the functions use, and importing boto3 also imports
s3transfer (~0.1 s of the webhook intake's cold start).
"""

from __future__ import annotations

from typing import Any

import botocore.session
from botocore.config import Config

from shared.settings import AwsSettings

# Fail fast on the webhook path: platforms wait 5 s at most (Shopify) and retry on 5xx anyway.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "max_attempts": 3})
STANDARD = Config(connect_timeout=3, read_timeout=10, retries={"mode": "standard", "max_attempts": 5})


def client(service: str, aws: AwsSettings, config: Config = STANDARD) -> Any:
    return botocore.session.get_session().create_client(
        service,
        region_name=aws.region,
        endpoint_url=aws.endpoint_url,
        config=config,
    )

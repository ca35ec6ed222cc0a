"""Deployment parameters: CDK context first, then ``CXLOOP_*`` environment variables, then defaults.

No lookups: the stack always has an explicit account and region, so synthesis needs neither network
nor credentials.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cxloop.cli_types import EMAIL_ADDRESS
from shared import topology

# The repository root: what gets zipped into every function (see functions.CODE_EXCLUDES).
REPO_ROOT = Path(__file__).resolve().parents[2]

DEFAULT_STACK_NAME = "cxloop"
DEFAULT_PREFIX = "cxloop"
# Placeholder account: synthesis works anywhere; deploying needs the real one (README).
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
DEFAULT_LOG_LEVEL = "INFO"

# Context key → environment variable consulted when the context key is absent.
CONTEXT_KEYS = {
    "stackName": "CXLOOP_STACK_NAME",
    "prefix": "CXLOOP_PREFIX",
    "account": "CXLOOP_ACCOUNT",
    "region": "CXLOOP_REGION",
    # Where `cxloop deploy` built the layers (cxloop/deploy/layers.py); synth only reads them.
    "layersDir": "CXLOOP_LAYERS_DIR",
    "logLevel": "CXLOOP_LOG_LEVEL",
    # Not CXLOOP_PUBLIC_URL: that is the functions' own variable (the local stack sets it to a loopback
    # URL), which must not leak into a deployment.
    "publicUrl": "CXLOOP_INFRA_PUBLIC_URL",
    # The address owner alerts and digests come from: an SES-verified identity of the account.
    "notifierSender": "CXLOOP_INFRA_NOTIFIER_SENDER",
    # Subscribed to the alarms' SNS topic (AWS e-mails it a confirmation link); none: no subscription.
    "alarmEmail": "CXLOOP_INFRA_ALARM_EMAIL",
}

_PREFIX = re.compile(r"^[a-z][a-z0-9-]{0,19}$")
_PUBLIC_URL = re.compile(r"^https://[^/?#\s]+(/[^?#\s]*[^/?#\s])?$")


@dataclass(frozen=True)
class InfraConfig:
    stack_name: str = DEFAULT_STACK_NAME
    prefix: str = DEFAULT_PREFIX
    account: str = DEFAULT_ACCOUNT
    region: str = DEFAULT_REGION
    # The layers' build cache (relative paths from the repository root); None: build/layers.
    layers_dir: str | None = None
    log_level: str = DEFAULT_LOG_LEVEL
    # Base of the links in survey e-mails when the API is served on a custom domain (https, no trailing
    # slash); None: the API's execute-api endpoint.
    public_url: str | None = None
    notifier_sender: str = "cxloop <alerts@cxloop.invalid>"
    alarm_email: str | None = None
    code_root: Path = REPO_ROOT

    def __post_init__(self) -> None:
        if not _PREFIX.match(self.prefix):
            raise ValueError(f"prefix {self.prefix!r}: lowercase letters, digits and '-', at most 20 chars")
        if not re.fullmatch(r"\d{12}", self.account):
            raise ValueError(f"account {self.account!r} is not a 12-digit AWS account id")
        if self.public_url is not None and not _PUBLIC_URL.match(self.public_url):
            raise ValueError(f"publicUrl {self.public_url!r}: expected https://host[/path], no trailing '/'")
        if self.alarm_email is not None and not EMAIL_ADDRESS.match(self.alarm_email):
            raise ValueError(
                f"alarmEmail {self.alarm_email!r}: expected one e-mail address such as ops@example.com"
            )

    @property
    def metrics_namespace(self) -> str:
        """The functions' CloudWatch namespace (POWERTOOLS_METRICS_NAMESPACE): the prefix, so two stacks in
        one account keep their counts (and alarms) apart."""
        return self.prefix

    @property
    def layers_path(self) -> Path:
        """layersDir, relative paths taken from the repository root (not the CDK CLI's cwd)."""
        if not self.layers_dir:
            return self.code_root / "build" / "layers"
        path = Path(self.layers_dir).expanduser()
        return path if path.is_absolute() else self.code_root / path

    @property
    def secrets_arn_pattern(self) -> str:
        """Every per-shop secret (``shared.topology.secret_name``), and nothing else."""
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{self.prefix}/shops/*"

    @property
    def review_credentials_arn_pattern(self) -> str:
        """Shops' review-source credentials (shared/credentials.py)."""
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{self.prefix}/shops/*/reviews/*"

    @property
    def notifier_credentials_arn_pattern(self) -> str:
        """Shops' Slack webhook URLs (shared/credentials.py, area ``notifier``)."""
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{self.prefix}/shops/*/notifier/*"

    @property
    def link_keys_arn_pattern(self) -> str:
        """The survey link keys (``shared.topology.link_keys_secret``): Secrets Manager appends ``-`` and
        six random characters to a secret's name in its ARN; ``-??????`` matches that and nothing else."""
        name = topology.link_keys_secret(self.prefix)
        return f"arn:aws:secretsmanager:{self.region}:{self.account}:secret:{name}-??????"

    @property
    def ses_configuration_set_name(self) -> str:
        return topology.physical(self.prefix, "surveys")

    @property
    def ses_configuration_set_arn(self) -> str:
        return f"arn:aws:ses:{self.region}:{self.account}:configuration-set/{self.ses_configuration_set_name}"

    @property
    def ses_identities_arn_pattern(self) -> str:
        """Every verified sender identity (domain or address) of the account in the region."""
        return f"arn:aws:ses:{self.region}:{self.account}:identity/*"

    @classmethod
    def resolve(
        cls,
        context: Callable[[str], object],
        environ: Mapping[str, str] | None = None,
    ) -> InfraConfig:
        """Build the config from ``node.try_get_context``-like ``context`` and the environment."""
        env = os.environ if environ is None else environ

        def get(key: str, *fallbacks: str) -> str | None:
            value = context(key)
            if value is not None and value != "":
                return str(value)
            for name in (CONTEXT_KEYS[key], *fallbacks):
                if env.get(name):
                    return env[name]
            return None

        return cls(
            stack_name=get("stackName") or DEFAULT_STACK_NAME,
            prefix=get("prefix") or DEFAULT_PREFIX,
            # The CDK CLI sets CDK_DEFAULT_* from the caller's credentials: a plain `cdk deploy` works.
            account=get("account", "CDK_DEFAULT_ACCOUNT") or DEFAULT_ACCOUNT,
            region=get("region", "CDK_DEFAULT_REGION") or DEFAULT_REGION,
            layers_dir=get("layersDir"),
            log_level=(get("logLevel") or DEFAULT_LOG_LEVEL).upper(),
            public_url=get("publicUrl"),
            notifier_sender=get("notifierSender") or cls.notifier_sender,
            alarm_email=get("alarmEmail"),
        )


def construct_id(logical: str) -> str:
    """``feedback-events`` → ``FeedbackEvents``: stable, CloudFormation-safe construct ids."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", logical) if part)

"""The cxloop stack and the app factory shared by ``infra/app.py`` and the tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import App, Environment, Stack, Tags
from constructs import Construct

from cxloop_infra.alarms import Alarms
from cxloop_infra.api import Api
from cxloop_infra.config import InfraConfig
from cxloop_infra.data import Data
from cxloop_infra.functions import Functions
from cxloop_infra.messaging import Messaging
from cxloop_infra.surveys import Surveys

# Feature flags set here rather than in cdk.json so that `python infra/app.py`, the tests and
# `cdk deploy` synthesize the same template (context given on the command line still wins).
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,
    "@aws-cdk/aws-lambda:recognizeLayerVersion": True,
    "@aws-cdk/core:enablePartitionLiterals": True,
}


class CxloopStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: InfraConfig) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=config.stack_name,
            env=Environment(account=config.account, region=config.region),
            description="cxloop: customer feedback loop for online shops (generated from shared/topology.py)",
        )
        self.config = config
        self.data = Data(self, "Data", config=config)
        self.messaging = Messaging(self, "Messaging", config=config)
        self.surveys = Surveys(self, "Surveys", config=config)
        # The API before the functions (survey links point at it), its routes after them.
        self.api = Api(self, "Api", config=config)
        self.functions = Functions(
            self,
            "Functions",
            config=config,
            data=self.data,
            messaging=self.messaging,
            surveys=self.surveys,
            public_url=self.api.public_url,
        )
        self.api.add_function_routes(self.functions)
        self.alarms = Alarms(self, "Alarms", config=config, messaging=self.messaging)
        Tags.of(self).add("app", "cxloop")
        Tags.of(self).add("cxloop:prefix", config.prefix)


def build_app(
    context: Mapping[str, Any] | None = None,
    *,
    outdir: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[App, CxloopStack]:
    """Create the app and its one stack; ``context`` plays the role of ``cdk -c key=value``."""
    app = App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    config = InfraConfig.resolve(app.node.try_get_context, environ)
    stack = CxloopStack(app, config.stack_name, config=config)
    return app, stack

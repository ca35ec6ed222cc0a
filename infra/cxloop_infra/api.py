"""The public HTTP API: one route per ``topology.Route`` of every function.

The API is created before the functions (the survey functions put its URL in their environment) and the
routes after them (each route's integration names its function): function → API and route → function,
no cycle.
"""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_integrations as integrations
from constructs import Construct

from cxloop_infra.config import InfraConfig, construct_id
from cxloop_infra.functions import Functions
from shared import topology

# Per-account protection against a misbehaving platform or a flood; webhooks are retried on 429.
THROTTLE_RATE = 200  # requests per second, steady state
THROTTLE_BURST = 400


class Api(Construct):
    def __init__(self, scope: Construct, construct_id_: str, *, config: InfraConfig) -> None:
        super().__init__(scope, construct_id_)
        self.http_api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=topology.physical(config.prefix, "api"),
            description="cxloop: e-commerce platform webhooks and survey answer pages",
            create_default_stage=False,
        )
        self.stage = apigw.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigw.ThrottleSettings(rate_limit=THROTTLE_RATE, burst_limit=THROTTLE_BURST),
        )
        # The $default stage is served at the API endpoint root: no trailing slash, no stage segment.
        self.url = self.http_api.api_endpoint
        # Where the links in survey e-mails point: a custom domain mapped to this API, else the endpoint.
        self.public_url = config.public_url or self.url
        CfnOutput(scope, "ApiUrl", value=self.url, description="Base URL of the HTTP API")
        CfnOutput(
            scope,
            "WebhookUrlTemplate",
            value=f"{self.url}{topology.WEBHOOK_ROUTE.path}",
            description="Register this URL with the shop's platform, filling platform and shop_id",
        )
        CfnOutput(scope, "PublicUrl", value=self.public_url, description="Base URL of survey links")

    def add_function_routes(self, functions: Functions) -> None:
        """Every route of every topology function, to that function."""
        for spec in topology.FUNCTIONS:
            if not spec.routes:
                continue
            integration = integrations.HttpLambdaIntegration(
                f"{construct_id(spec.logical)}Integration", functions.functions[spec.logical]
            )
            for route in spec.routes:
                self.http_api.add_routes(
                    path=route.path, methods=[apigw.HttpMethod(route.method.upper())], integration=integration
                )

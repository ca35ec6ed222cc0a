"""The cxloop CDK app: every AWS resource is generated from ``shared.topology``."""

from cxloop_infra.config import InfraConfig
from cxloop_infra.stack import CxloopStack, build_app

__all__ = ["CxloopStack", "InfraConfig", "build_app"]

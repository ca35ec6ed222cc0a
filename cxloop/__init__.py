"""The cxloop command line and the embedded local stack (tooling, never deployed to Lambda)."""

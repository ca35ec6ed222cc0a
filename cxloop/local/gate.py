"""What the stack and its AWS server agree on for the server's start-up gate (see aws_server.Gate)."""

PROVISIONING_HEADER = "X-Cxloop-Provisioning"
GATE_PATH = "/_cxloop/gate/open"

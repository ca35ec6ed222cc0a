"""The embedded local stack: moto's server, a gateway, a queue pump, and SMTP/Slack sinks."""

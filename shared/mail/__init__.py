"""Sending e-mail, for every service that does: the message model, the Mailer port and its SMTP and SES
adapters. Here rather than in a service because services never import one another."""

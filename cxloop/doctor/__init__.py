"""``cxloop doctor``: check a stack the way an operator would (SES senders and account, the public URL,
webhook subscriptions, dead-letter queues and their alarms, the link keys), one line per check.

``model`` (results and what is checked), ``ports`` (the read-only view of AWS and HTTP the checks
need), ``checks`` (pure functions over a port), ``render`` (terminal and JSON), ``adapters`` (boto3 and
urllib), ``discover`` (what a local or deployed stack holds). Composition: ``cxloop.doctor_commands``.
"""

"""Domain logic of the feedback service: no boto3 here, only ports (see ports.py)."""

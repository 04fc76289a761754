"""The seven steps of an incident as use cases: each takes ports, never boto3 or the environment."""

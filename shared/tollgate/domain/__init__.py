"""Pure business rules. Imports neither boto3 nor pynamodb: it talks to the ports in ``ports.py``."""

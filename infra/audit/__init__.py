"""``tollgate audit``: every invariant of a tenant's pool checked against its records as stored.

An operator's tool, run by the CLI and after every concurrent integration test, so it lives outside the layer
that Lambda loads; it reads every capability's records (pool, holds, approvals), which no capability may do.
"""

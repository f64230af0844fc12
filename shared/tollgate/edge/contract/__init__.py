"""The API contract as plain data: what every route may answer, the credentials, and the routes whose
functions cannot afford pydantic (validate, usage, the Stripe webhook), declared beside their parsers;
``operations`` says each route's operationId, summary and description, ``access`` who may call it (from its
gate). ``tollgate.edge.contract.document`` merges them with the generated parts (``python -m infra.contract``)."""

"""The API contract as plain data: what every route may answer, the credentials, and the routes whose
functions cannot afford pydantic (validate, usage, the Stripe webhook), declared beside their parsers.
``tollgate.edge.contract.document`` merges them with the portal's and signup's generated parts."""

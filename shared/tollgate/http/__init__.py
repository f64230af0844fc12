"""The HTTP edge: the resolver, request parsing, authentication and the one error-to-status map."""

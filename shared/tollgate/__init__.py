"""Tollgate: token-based licensing. The package every function imports (built as the Lambda layer)."""

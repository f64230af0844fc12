"""The data-access package: the only code that knows the table, builds its keys or imports pynamodb."""

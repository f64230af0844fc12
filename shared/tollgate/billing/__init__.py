"""Stripe: the only package that imports the stripe SDK (lazily: it costs ~180 ms to import)."""

"""The project's benchmark: ``python -m infra.bench`` (``make bench``); figures in docs/performance.md."""

"""labship's benchmarks: ``python -m bench.bench_local`` and ``python -m bench.bench_docker``.

Run from the repository root with the Python that has labship installed (``.venv``).
See ``bench/README.md``.
"""

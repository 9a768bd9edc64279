"""The measurement that chooses the async edge's server and shape (issue #12).

    apps.py      the minimal apps: static 302, bare (one GET + 302), floor (one EVALSHA: per-IP
                 limit + GET + HINCRBY + XADD, + 302), each as raw ASGI and as granian RSGI
    (the *_mux apps use core/pipelined.py, the product's auto-pipelined Redis client)
    openloop.py  an open-loop generator over keep-alive connections (bench/loadgen.py's opens a
                 connection per request)
    (HAProxy's L7 routing is the product's config/haproxy.cfg)
    run.py       `python -m bench.edge.run`: starts every server, drives it, prints one table

Results and the choice: docs/benchmarks.md, "Choosing the async edge (issue #12)".
"""

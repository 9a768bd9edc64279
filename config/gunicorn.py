"""gunicorn settings that its command line cannot give (Procfile: `gunicorn -c config/gunicorn.py`).

The load balancer checks this tier's /healthz every 2 s (config/haproxy.cfg). Those checks are not
visitors: their access-log lines are dropped, so the console of `make run` shows real requests.
A failing check still shows up: HAProxy logs the tier going DOWN, and a 503 line is kept."""

import logging


class DropLoadBalancerChecks(logging.Filter):
    """Drops gunicorn's access-log line of a passing health check (GET /healthz answered 200 to
    a client that sends no User-Agent: HAProxy's check)."""

    def filter(self, record: logging.LogRecord) -> bool:
        atoms = record.args
        if not isinstance(atoms, dict):
            return True
        checked = atoms.get("U") == "/healthz" and atoms.get("a") == "-"
        return not (checked and str(atoms.get("s")) == "200")


logging.getLogger("gunicorn.access").addFilter(DropLoadBalancerChecks())

from django.http import HttpRequest

# The four walkthroughs of the seed, in its order. Templates render the navigation from this.
SYSTEMS = (
    ("shortener:index", "URL shortener", "Snowflake IDs, base62 codes, cache-aside redirects"),
    ("timeline:index", "Timeline", "Fan-out on write, pull for celebrities, hybrid merge"),
    ("payments:index", "Payments", "Double-entry ledger, idempotency, sagas and outbox"),
    ("ratelimit:index", "Rate limiter", "Token bucket, sliding log and counter, GCRA, in Lua"),
)


def navigation(request: HttpRequest) -> dict:
    return {
        "systems": [
            {"url_name": url_name, "title": title, "summary": summary}
            for url_name, title, summary in SYSTEMS
        ]
    }

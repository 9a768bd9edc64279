from django.http import HttpRequest

# The four walkthroughs of the seed, in its order. Templates render the navigation from this.
SYSTEMS = (
    ("shortener:index", "URL shortener", "Snowflake IDs, base62 codes, cache-aside redirects"),
    ("timeline:index", "Timeline", "Fan-out on write, pull for celebrities, hybrid merge"),
    ("payments:index", "Payments", "Double-entry ledger, idempotency, sagas and outbox"),
    ("ratelimit:index", "Rate limiter", "Token bucket, sliding log and counter, GCRA, in Lua"),
)
# The ones that run. The others are marked "coming" wherever systems are listed (navigation,
# home page, footer), so no page promises what does not run.
BUILT = frozenset({"shortener:index", "timeline:index", "ratelimit:index"})


def navigation(request: HttpRequest) -> dict:
    systems = [
        {"url_name": url_name, "title": title, "summary": summary, "built": url_name in BUILT}
        for url_name, title, summary in SYSTEMS
    ]
    return {
        "systems": systems,
        "systems_running": [item for item in systems if item["built"]],
        "systems_coming": [item for item in systems if not item["built"]],
    }

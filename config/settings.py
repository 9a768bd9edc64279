"""One settings module, driven by the environment (12-factor).

Every value has a default that works on a developer machine set up by `make run`; production sets
the environment instead (see docs/operations.md for the list and for `check --deploy`).
"""

from pathlib import Path

import environ
from redis.backoff import NoBackoff
from redis.retry import Retry

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A .env file is optional and never committed; the process environment wins over it.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str(
    "SECRET_KEY",
    # Good enough for a laptop; `check --deploy` flags it and production must set its own.
    default="django-insecure-local-only-0vR7tq2Zb9mXkP4cW8sJ1nE6hY3uA5dF",
)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here, not a CDN: /api/docs/ works offline
    "core",
    "accounts",
    "shortener",
    "timeline",
    "payments",
    "ratelimit",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # An ApplicationError escaping a page view (a 429 from ratelimit.pages) -> a page, not a 500.
    "core.middleware.ApplicationErrorPageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "core.context_processors.navigation",
            ],
        },
    },
]

# --- PostgreSQL (psycopg 3) ----------------------------------------------------------------------
DATABASES = {
    "default": env.db_url(
        "DATABASE_URL", default="postgres://sysdesign:sysdesign@127.0.0.1:5432/sysdesign"
    )
}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = 5
# Services own their transactions (STYLE.md): no implicit transaction per request.
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis ---------------------------------------------------------------------------------------
# db 0: Django cache (django-redis) and app keys through core.redis; db 1: the Celery broker.
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/0")
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.5)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 1)},  # see core.redis
        },
    }
}

# --- Celery --------------------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/1")
CELERY_RESULT_BACKEND = env.str("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL)

# --- Auth ----------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
    {"NAME": "accounts.validators.WhitespacePasswordValidator"},  # 20 spaces is no password
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- DRF + OpenAPI -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": (
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ),
    "DEFAULT_PERMISSION_CLASSES": ("rest_framework.permissions.IsAuthenticatedOrReadOnly",),
    "DEFAULT_RENDERER_CLASSES": ("rest_framework.renderers.JSONRenderer",),
    "DEFAULT_PARSER_CLASSES": ("core.parsers.JSONParser",),
    "EXCEPTION_HANDLER": "core.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Redis-backed, exact across processes (ratelimit/throttles.py); policies: RATELIMIT_POLICIES.
    "DEFAULT_THROTTLE_CLASSES": (
        "ratelimit.throttles.UserRateThrottle",
        "ratelimit.throttles.AnonRateThrottle",
        "ratelimit.throttles.ScopedRateThrottle",
    ),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "System design, runnable — API",
    "DESCRIPTION": (
        "REST API of the accounts, the URL shortener and the timeline; every endpoint is rate "
        "limited (`RateLimit` headers, 429 with `Retry-After`). Payments are not built yet: "
        "their endpoints come with them. Mastodon clients: `/mastodon/api/v1/` (docs/api.md). "
        "Authenticate with `Authorization: Token <token>` from `POST /api/v1/auth/token`. "
        'Every error has one shape: `{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.openapi.document_common_errors",  # 429, 413, 401, parse errors on every operation
    ],
}

# --- i18n / time ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files: whitenoise, hashed names, far-future cache headers (CDN-ready) --------------
STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Media: uploads of the timeline (timeline/media.py, docs/timeline.md "Media") -------------
# Stored through Django's storage API (STORAGES["default"]) under content-addressed names,
# `media/<sha256>/original.jpg`, `.../thumb.webp`, `.../360p.mp4`: a name never changes content,
# so every URL is cacheable for ever (a CDN in front needs nothing else).
#   MEDIA_STORAGE=local  the filesystem at MEDIA_ROOT, served at /media/ by Django (the CDN's
#                        origin; timeline.media_api.media_file) with immutable cache headers
#   MEDIA_STORAGE=s3     S3-compatible object storage (django-storages): AWS_STORAGE_BUCKET_NAME,
#                        and as needed AWS_S3_ENDPOINT_URL (MinIO, R2, ...), AWS_S3_REGION_NAME,
#                        AWS_S3_CUSTOM_DOMAIN (the CDN's host name), the credentials in
#                        AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (read by boto3 itself)
MEDIA_STORAGE = env.str("MEDIA_STORAGE", default="local")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / ".run" / "media")
MEDIA_URL = env.str("MEDIA_URL", default="/media/")  # or the CDN's, e.g. https://cdn.example/media/
if MEDIA_STORAGE == "s3":
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default=None),
            # Public, unsigned URLs: a signed URL changes every hour and no cache can keep it.
            "querystring_auth": False,
            "file_overwrite": True,  # a name is its content: writing it again changes nothing
            "object_parameters": {"CacheControl": "public, max-age=31536000, immutable"},
        },
    }
elif MEDIA_STORAGE != "local":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"MEDIA_STORAGE is 'local' or 's3', not {MEDIA_STORAGE!r}")
# What one upload may be (refused with 413 above the bytes, 400 above the rest). The request
# re-encodes an image (bounded by these), the `media` queue does thumbnails and transcodes.
MEDIA_MAX_IMAGE_BYTES = env.int("MEDIA_MAX_IMAGE_BYTES", default=8 * 1024 * 1024)
MEDIA_MAX_IMAGE_PIXELS = 50_000_000  # decoded width x height (a 48 MP phone photo fits)
MEDIA_MAX_ANIMATION_FRAMES = 300  # GIF, animated PNG or WebP
MEDIA_MAX_ANIMATION_PIXELS = 60_000_000  # frames x width x height
MEDIA_IMAGE_MAX_SIDE = 2048  # the stored original is scaled down to fit 2048 x 2048
MEDIA_THUMB_SIZE = 400  # thumbnails fit 400 x 400 (WebP)
MEDIA_MAX_VIDEO_BYTES = env.int("MEDIA_MAX_VIDEO_BYTES", default=40 * 1024 * 1024)
MEDIA_MAX_VIDEO_SECONDS = 60
MEDIA_MAX_VIDEO_SIDE = 4096
# Width x height x frames a video may make the worker decode (1080p at 30 fps for 32 s, 720p for
# 72 s): about what one transcode step does within MEDIA_FFMPEG_TIMEOUT_SECONDS on 2 cores.
MEDIA_MAX_VIDEO_DECODED_PIXELS = 2_000_000_000
# One ffmpeg run (a step of the outbox handler) must end well inside the outbox's 60 s lease.
MEDIA_FFMPEG_TIMEOUT_SECONDS = 45
# /healthz says "degraded" when an upload waits longer than this for its processing.
MEDIA_BACKLOG_ALERT_SECONDS = env.int("MEDIA_BACKLOG_ALERT_SECONDS", default=300)

# --- Security: production values come from the environment (docs/operations.md) ------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=False)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=False)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# /healthz must answer load balancers that probe by IP, and must not be redirected to HTTPS.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# --- Outbox (core/outbox.py): how often Celery beat re-kicks events whose kick was lost ----------
OUTBOX_SWEEP_SECONDS = env.float("OUTBOX_SWEEP_SECONDS", default=5.0)

# --- Snowflake IDs -------------------------------------------------------------------------------
SNOWFLAKE_LEASE_SECONDS = env.int("SNOWFLAKE_LEASE_SECONDS", default=60)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # With DEBUG on (`make run`), Django's default config gives "django" a console handler
        # of its own: every line of it would be printed twice, once more by the root's. (Its
        # other default handler, mail_admins, goes too: no ADMINS are set.)
        "django": {"handlers": [], "propagate": True},
        # Celery beat sends two tasks every SHORTENER_CLICK_FLUSH_SECONDS, and the worker logs
        # "received" and "succeeded" for each at INFO: six lines every 5 s that bury the console
        # (and the demo credentials `make run` prints). A task that fails or retries is still
        # logged, at ERROR/WARNING; TASK_LOG_LEVEL=INFO brings the routine lines back.
        **{
            name: {"level": env.str("TASK_LOG_LEVEL", default="WARNING")}
            for name in ("celery.app.trace", "celery.worker.strategy", "celery.beat")
        },
    },
}

# Django's request-size guards log a client's oversized body at ERROR with a traceback; the client
# has its 413/400 (core.errors.request_refusal): a one-line warning here.
LOGGING.setdefault("filters", {})["client_error"] = {"()": "core.logging.ClientErrorFilter"}
for _guard in ("RequestDataTooBig", "TooManyFieldsSent", "TooManyFilesSent"):
    LOGGING["loggers"][f"django.security.{_guard}"] = {"filters": ["client_error"]}

# --- URL shortener (shortener/) ------------------------------------------------------------------
# Public origin of short links ("https://sho.rt"); empty = the origin of the request that made them.
SHORTENER_BASE_URL = env.str("SHORTENER_BASE_URL", default="")
SHORTENER_CODE_LENGTH = 7  # random base62 characters: 62**7 ≈ 3.5e12 codes
SHORTENER_MAX_URL_LENGTH = 2048
# Destinations refused (the host itself and every subdomain), e.g. known phishing or shorteners
# that would chain redirects.
SHORTENER_BLOCKED_DOMAINS = env.list(
    "SHORTENER_BLOCKED_DOMAINS", default=["bit.ly", "tinyurl.com", "t.co", "goo.gl", "is.gd"]
)
# Allow destinations on loopback, private, link-local and other non-public addresses (and
# localhost): for an intranet deployment. Off, a short link can only lead to the public internet.
SHORTENER_ALLOW_PRIVATE_DESTINATIONS = env.bool(
    "SHORTENER_ALLOW_PRIVATE_DESTINATIONS", default=False
)
SHORTENER_CACHE_SECONDS = env.int("SHORTENER_CACHE_SECONDS", default=3600)  # cache-aside TTL
SHORTENER_NEGATIVE_CACHE_SECONDS = env.int("SHORTENER_NEGATIVE_CACHE_SECONDS", default=60)
# Cache a new link as it is created, so its first clicks are hits (docs/shortener.md, "Warm on
# create"); costs Redis memory for links created in the last SHORTENER_CACHE_SECONDS.
SHORTENER_CACHE_ON_CREATE = env.bool("SHORTENER_CACHE_ON_CREATE", default=True)
SHORTENER_CLICK_FLUSH_SECONDS = env.float("SHORTENER_CLICK_FLUSH_SECONDS", default=5.0)
# /healthz says "degraded" when click events or cache invalidations wait longer than this for
# Celery (shortener/health.py): 12 flush intervals.
SHORTENER_BACKLOG_ALERT_SECONDS = env.int("SHORTENER_BACKLOG_ALERT_SECONDS", default=60)
SHORTENER_BULK_MAX = 1000
# Items with a password per bulk request: each is a password hash (~0.3 s of a worker), so a
# full request stays a few seconds of work, well inside gunicorn's 30 s timeout.
SHORTENER_BULK_MAX_PASSWORDS = 10
# Redis slots (hash tags) the shortener spreads its keys over; change only after a drained flush.
SHORTENER_REDIS_SLOTS = 8
SHORTENER_EVENTS_MAXLEN = 100_000  # per slot: click events kept if flushing stops (oldest dropped)

# --- Timeline (timeline/, docs/timeline.md) ---------------------------------------------------
TIMELINE_FEED_SIZE = 800  # entries per home feed, as Twitter keeps (older pages come from SQL)
# Authors with more followers than this are not fanned out: their tweets are merged at read time.
TIMELINE_CELEBRITY_FOLLOWERS = env.int("TIMELINE_CELEBRITY_FOLLOWERS", default=10_000)
# A read merges at most this many followed celebrities; a reader following more is answered
# from PostgreSQL (the pull model), still exact.
TIMELINE_MAX_MERGED_CELEBRITIES = 50
# Followers not seen for this long get no deliveries; their feed is rebuilt when they return.
TIMELINE_INACTIVE_DAYS = env.int("TIMELINE_INACTIVE_DAYS", default=30)
TIMELINE_FANOUT_CHUNK = 1000  # followers per fan-out step (one pipelined round trip)
TIMELINE_TWEET_CACHE_SECONDS = 86400
# /healthz says "degraded" when a fan-out waits longer than this.
TIMELINE_BACKLOG_ALERT_SECONDS = env.int("TIMELINE_BACKLOG_ALERT_SECONDS", default=60)

# --- Rate limiting (ratelimit/, docs/ratelimit.md) -----------------------------------------------
# Limiter state lives in Redis (one Lua script per check); empty = REDIS_URL.
RATELIMIT_REDIS_URL = env.str("RATELIMIT_REDIS_URL", default="")
# Proxies (CIDRs) whose X-Forwarded-For entries are believed, e.g. ["10.0.0.0/8"] behind a load
# balancer. Empty: X-Forwarded-For is ignored and the client is REMOTE_ADDR.
RATELIMIT_TRUSTED_PROXIES = env.list("RATELIMIT_TRUSTED_PROXIES", default=[])
RATELIMIT_IPV6_PREFIX = 64  # an IPv6 client is limited per /64 (one host usually holds one)
# scope -> policy (ratelimit/policies.py). Per-IP limits are generous: one address can be a
# whole office or carrier NAT.
RATELIMIT_POLICIES = {
    # The seed's "100 requests/minute per user", with a burst of 100.
    "user": {"algorithm": "token_bucket", "limit": 100, "window": 60, "key": "user"},
    "anon": {"algorithm": "sliding_counter", "limit": 300, "window": 60, "key": "ip"},
    # Creation writes a row and reserves a code: its own, slower budget on top of "user". One
    # budget for POST /api/v1/links and the pages' form (shortener index): per user when signed
    # in (both draw from it), per client IP for anonymous visitors.
    "link_create": {
        "algorithm": "token_bucket", "limit": 300, "window": 3600, "burst": 60,
        "key": "user_or_ip", "methods": ["POST"],
    },
    "link_bulk_create": {
        "algorithm": "token_bucket", "limit": 20, "window": 3600, "burst": 5, "key": "user",
    },
    # Password guessing: POST /api/v1/auth/token, the sign-in page and the admin's, counted before
    # the password hash (~0.3 s of a worker each). Per client IP, and per username against many
    # IPs guessing at one account. Successful sign-ins count (the count comes before the check);
    # refused attempts do not, so a username is never locked for longer than 5 minutes after the
    # guessing stops. fail_closed: an outage of Redis must not open them.
    "login_ip": {
        "algorithm": "sliding_log", "limit": 60, "window": 300, "key": "ip", "methods": ["POST"],
        "on_redis_down": "fail_closed",
    },
    "login_username": {
        "algorithm": "sliding_log", "limit": 10, "window": 300, "key": "username",
        "methods": ["POST"], "on_redis_down": "fail_closed",
    },
    # Sign-up: POST /api/v1/auth/register and the sign-up page (a row and a password hash each).
    "auth_register": {
        "algorithm": "sliding_counter", "limit": 100, "window": 3600, "key": "ip",
        "methods": ["POST"],
    },
    # Redirects per client IP, against scraping and code enumeration: 10/s sustained, bursts of
    # 200 (a page full of short links). Headers only on refusals: browsers ignore them.
    "redirect": {
        "algorithm": "gcra", "limit": 600, "window": 60, "burst": 200, "key": "ip",
        "headers_on_success": False,
    },
    # Timeline: posting writes a row and an outbox event, and costs a fan-out; following costs a
    # backfill (up to TIMELINE_FEED_SIZE entries) and two counts.
    "tweet_create": {
        "algorithm": "token_bucket", "limit": 300, "window": 3600, "burst": 30, "key": "user",
        "methods": ["POST"],
    },
    "follow": {
        "algorithm": "token_bucket", "limit": 400, "window": 3600, "burst": 50, "key": "user",
        "methods": ["POST", "DELETE"],
    },
    # An upload: up to 40 MB on disk, a re-encode in the request, a thumbnail and two transcodes
    # on the `media` queue (seconds of a worker's CPU).
    "media_upload": {
        "algorithm": "token_bucket", "limit": 60, "window": 3600, "burst": 10, "key": "user",
        "methods": ["POST"],
    },
    # Each try of a link's password costs a PostgreSQL read and a password hash.
    "link_password": {"algorithm": "sliding_log", "limit": 10, "window": 300, "key": "ip_path"},
    # The lab page (/ratelimit/): every lab call, 10 a second sustained (steady mode sends at
    # most 10), bursts of 60; and each measurement of a configuration nobody has measured yet
    # (up to 5,000 script runs), 10 at once, then one a minute. docs/ratelimit.md, "The lab".
    "lab_request": {
        "algorithm": "token_bucket", "limit": 600, "window": 60, "burst": 60, "key": "ip",
    },
    "lab_memory": {
        "algorithm": "token_bucket", "limit": 60, "window": 3600, "burst": 10, "key": "ip",
    },
}  # fmt: skip
# Operations: change policies without a deploy, e.g. '{"redirect": {"mode": "shadow"}}'.
for _scope, _override in env.json("RATELIMIT_POLICY_OVERRIDES", default={}).items():
    RATELIMIT_POLICIES[_scope] = {**RATELIMIT_POLICIES.get(_scope, {}), **_override}
MIDDLEWARE = [*MIDDLEWARE, "ratelimit.middleware.RateLimitHeadersMiddleware"]

# Celery's Django fixup closes every database connection before and after each task unless this
# is set: a new PostgreSQL backend per fan-out step (~8 ms, ~7 ms of PostgreSQL CPU here).
CELERY_DB_REUSE_MAX = 1000

"""Settings, read from environment variables (every one is listed in .env.example).

No variable set gives the embedded default: SQLite in ./data, media in ./data/media,
an in-process queue. DATABASE_URL, S3_BUCKET and BROKER_URL switch to PostgreSQL, S3
and SQS.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from classifier_site.core.env import env_bool, env_choice, env_float, env_int, env_list, env_str

# Each worker thread holds one message at a time: a long job never sits prefetched behind
# another while an idle worker could take it. Dramatiq reads this when it is first imported,
# so it is set before the broker module imports dramatiq (worker processes inherit it).
os.environ.setdefault("dramatiq_queue_prefetch", str(env_int("WORKER_PREFETCH", 1, minimum=1)))

from classifier_site.core.broker import dramatiq_broker_settings  # noqa: E402
from classifier_site.core.storage import s3_media_storage  # noqa: E402

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("DATA_DIR", str(BASE_DIR / "data")))

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Embedded mode is the laptop default: loopback only, a throwaway key kept in DATA_DIR.
EMBEDDED = env_bool("EMBEDDED", not env_str("DATABASE_URL"))

if not SECRET_KEY:
    if DEBUG or EMBEDDED:
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        key_file = DATA_DIR / "secret_key"
        if not key_file.exists():
            key_file.write_text(get_random_secret_key())
            key_file.chmod(0o600)
        SECRET_KEY = key_file.read_text().strip()
    else:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (production).")
if not ALLOWED_HOSTS:
    if DEBUG or EMBEDDED:
        ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]", "testserver"]
    else:
        raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off (production).")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_dramatiq",
    "classifier_site",
    "classifier_site.accounts",
    "images",
    "categories",
    "jobs",
    "inference",
]

MIDDLEWARE = [
    # First: /livez answers before Host validation and the HTTPS redirect (load balancer).
    "classifier_site.livez.LivezMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "classifier_site.core.middleware.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "classifier_site.core.errors.DomainErrorMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "classifier_site.urls"
WSGI_APPLICATION = "classifier_site.wsgi.application"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

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
                "classifier_site.context_processors.nav",
            ],
        },
    }
]

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0),
            conn_health_checks=True,
        )
    }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            # WAL + a busy timeout let the in-process worker thread write while pages read.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Throttle counters must be shared by all web processes in production: use the database.
CACHE_BACKEND = env_choice("CACHE_BACKEND", "locmem", {"locmem", "database"})
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache_table"}
        if CACHE_BACKEND == "database"
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Static and media -------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))
# No MEDIA_URL is served: files reach their owner only through views that check ownership.

S3_BUCKET = env_str("S3_BUCKET")
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
AWS_REGION = env_str("AWS_REGION", "us-east-1")
if S3_BUCKET:
    _media_storage = s3_media_storage(
        bucket=S3_BUCKET,
        endpoint_url=S3_ENDPOINT_URL,
        region=AWS_REGION,
        url_expiry_seconds=env_int("S3_URL_EXPIRY_SECONDS", 300, minimum=1),
    )
else:
    _media_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "base_url": None},
    }
STORAGES = {
    "default": _media_storage,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            # Embedded runs straight from the checkout (no collectstatic step); production
            # serves hashed, compressed files collected at image build time.
            if DEBUG or EMBEDDED
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or EMBEDDED

# --- Images ---------------------------------------------------------------------------
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 25 * 1024 * 1024, minimum=1)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 50_000_000, minimum=1)
IMAGE_STRIP_LOCATION = env_bool("IMAGE_STRIP_LOCATION", True)
IMAGE_THUMBNAIL_PX = env_int("IMAGE_THUMBNAIL_PX", 320, minimum=32)  # longest side, WebP
# Lifetime of a presigned POST from /api/v1/upload-url (direct-to-S3 upload).
IMAGE_UPLOAD_URL_EXPIRY_SECONDS = env_int("IMAGE_UPLOAD_URL_EXPIRY_SECONDS", 300, minimum=10)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FILES = env_int("UPLOAD_MAX_FILES", 200, minimum=1)

# --- Inference ------------------------------------------------------------------------
WEIGHTS_DIR = Path(env_str("WEIGHTS_DIR", str(DATA_DIR / "weights")))
MODEL_CACHE_DIR = Path(env_str("MODEL_CACHE_DIR", str(DATA_DIR / "model-cache")))
INFERENCE_BATCH_SIZE = env_int("INFERENCE_BATCH_SIZE", 16, minimum=1)
TORCH_THREADS = env_int("TORCH_THREADS", 0, minimum=0)  # 0 = torch's own default
IMAGENET_MODEL = env_str("IMAGENET_MODEL", "mobilenet_v2")
CLIP_MODEL = env_str("CLIP_MODEL", "ViT-B-32")
CLIP_PRETRAINED = env_str("CLIP_PRETRAINED", "laion2b_s34b_b79k")
CLIP_TEMPLATES = env_str("CLIP_TEMPLATES", "openai_imagenet")
PREDICT_WAIT_SECONDS = env_float("PREDICT_WAIT_SECONDS", 10.0)
# ImageNet model used when IMAGENET_MODEL's weights are not on disk (ships with the worker).
IMAGENET_FALLBACK_MODEL = env_str("IMAGENET_FALLBACK_MODEL", "efficientnet_lite0")
# Optional open_clip model-config JSON file registering CLIP_MODEL (custom or tiny models).
CLIP_MODEL_CONFIG = env_str("CLIP_MODEL_CONFIG")
# Fetch missing weights from torchvision / the Hugging Face hub; off when HF_HUB_OFFLINE=1.
WEIGHTS_DOWNLOAD = env_bool("WEIGHTS_DOWNLOAD", not env_bool("HF_HUB_OFFLINE", False))
# Seconds to wait for the weights host before failing (never hang on retries).
WEIGHTS_DOWNLOAD_TIMEOUT = env_float("WEIGHTS_DOWNLOAD_TIMEOUT", 10.0)
# Threads decoding and preprocessing the next batch while the current one runs.
INFERENCE_DECODE_THREADS = env_int("INFERENCE_DECODE_THREADS", 1, minimum=1)

# --- Queue ----------------------------------------------------------------------------
BROKER_URL = env_str("BROKER_URL")  # "sqs://" (AWS) or empty for the in-process queue
SQS_ENDPOINT_URL = env_str("SQS_ENDPOINT_URL")
SQS_NAMESPACE = env_str("SQS_NAMESPACE", "classifier")
# Per message, i.e. per shard of JOB_SHARD_SIZE images (not per job).
JOB_TIME_LIMIT_SECONDS = env_int("JOB_TIME_LIMIT_SECONDS", 600, minimum=1)
SQS_VISIBILITY_TIMEOUT_SECONDS = env_int(
    "SQS_VISIBILITY_TIMEOUT_SECONDS", JOB_TIME_LIMIT_SECONDS + 300, minimum=2
)
SQS_MAX_RECEIVES = env_int("SQS_MAX_RECEIVES", 3, minimum=1)
RETRY_MAX_BACKOFF_MS = env_int("RETRY_MAX_BACKOFF_MS", 15 * 60 * 1000, minimum=1000)
if RETRY_MAX_BACKOFF_MS > 15 * 60 * 1000:
    raise ImproperlyConfigured(
        "RETRY_MAX_BACKOFF_MS may be at most 900000: SQS delays cap at 15 min."
    )
if SQS_VISIBILITY_TIMEOUT_SECONDS <= JOB_TIME_LIMIT_SECONDS:
    raise ImproperlyConfigured(
        "SQS_VISIBILITY_TIMEOUT_SECONDS must exceed JOB_TIME_LIMIT_SECONDS, or a running job's "
        "message would be delivered to a second worker."
    )
# --- Jobs (jobs app) -------------------------------------------------------------------
# A job's images are split into shards of this many, one queue message each, so any
# number of workers share one job. Small enough that a shard takes seconds (a lost one is
# cheap to redo), large enough that per-message overhead stays small.
JOB_SHARD_SIZE = env_int("JOB_SHARD_SIZE", 64, minimum=1)
# A worker refreshes its shard's lease (JobShard.heartbeat_at) after every batch and at
# least every JOB_HEARTBEAT_SECONDS; a lease older than JOB_LEASE_SECONDS means the worker
# is gone and the sweeper hands the shard to another one: recovery takes about
# lease + sweep interval. The lease must be shorter than the SQS visibility timeout.
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 10.0)
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 60, minimum=1)
# Retry delays for transient errors (database, storage or queue unreachable): these
# retries are not counted as attempts, they wait (doubling, up to this) until it returns.
JOB_TRANSIENT_MAX_BACKOFF_MS = env_int("JOB_TRANSIENT_MAX_BACKOFF_MS", 30_000, minimum=1000)
# Deliveries (claims) of one job before it is failed; matches the queue's redrive policy.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", SQS_MAX_RECEIVES, minimum=1)
JOB_RETRY_MIN_BACKOFF_MS = env_int("JOB_RETRY_MIN_BACKOFF_MS", 5_000, minimum=1)
# The sweeper re-dispatches pending jobs (and expired leases) older than this.
JOB_PENDING_GRACE_SECONDS = env_int("JOB_PENDING_GRACE_SECONDS", 60, minimum=0)
# A queued job that no worker claimed this long after its last send is sent again (its
# message may have been dead-lettered before any claim); duplicates are harmless.
JOB_QUEUED_RESEND_SECONDS = env_int("JOB_QUEUED_RESEND_SECONDS", 300, minimum=1)
JOB_SWEEP_INTERVAL_SECONDS = env_float("JOB_SWEEP_INTERVAL_SECONDS", 15.0)
JOB_MAX_IMAGES = env_int("JOB_MAX_IMAGES", 10_000, minimum=1)
if JOB_LEASE_SECONDS >= SQS_VISIBILITY_TIMEOUT_SECONDS:
    raise ImproperlyConfigured(
        "JOB_LEASE_SECONDS must be shorter than SQS_VISIBILITY_TIMEOUT_SECONDS, or a "
        "redelivered message would find the dead worker's lease still held."
    )

DRAMATIQ_BROKER = dramatiq_broker_settings(
    broker_url=BROKER_URL,
    sqs_endpoint_url=SQS_ENDPOINT_URL,
    namespace=SQS_NAMESPACE,
    region=AWS_REGION,
    visibility_timeout=SQS_VISIBILITY_TIMEOUT_SECONDS,
    max_receives=SQS_MAX_RECEIVES,
    max_backoff_ms=RETRY_MAX_BACKOFF_MS,
    # Worker processes serve their own Prometheus metrics on this port (0 = off).
    metrics_port=env_int("WORKER_METRICS_PORT", 0, minimum=0),
    # Touched while the worker's consumer still polls; a liveness probe checks its age.
    liveness_file=env_str("WORKER_LIVENESS_FILE"),
)
DRAMATIQ_AUTODISCOVER_MODULES = ["tasks"]
# Run the in-process worker inside the web process (embedded default only).
INPROCESS_WORKER = env_bool("INPROCESS_WORKER", not BROKER_URL)

# --- API ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("THROTTLE_USER", "2000/hour"),
        "anon": env_str("THROTTLE_ANON", "100/hour"),
        "token_obtain": env_str("THROTTLE_TOKEN_OBTAIN", "10/minute"),
    },
    "EXCEPTION_HANDLER": "classifier_site.core.errors.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Image classification API",
    "DESCRIPTION": "Upload images, manage label sets, run ImageNet and CLIP zero-shot jobs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Security -------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG and not EMBEDDED:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # The load balancer's health check hits /health over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health$"]

# --- Logging --------------------------------------------------------------------------
LOG_FORMAT = env_choice("LOG_FORMAT", "text" if (DEBUG or EMBEDDED) else "json", {"text", "json"})
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "botocore": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}

# --- Metrics --------------------------------------------------------------------------
PROMETHEUS_EXPORT_MIGRATIONS = False
SERVICE_NAME = "classifier"
METRICS_TOKEN = env_str("METRICS_TOKEN")  # optional bearer token guarding /metrics

"""Flamingo Workbench settings: one module, every value from the environment.

`WORKBENCH_ENV` picks the safety defaults:

- ``production`` (the default): DEBUG off, HTTPS-only cookies and HSTS, and every secret must be
  given explicitly; a missing one stops start-up with a message naming the variable.
- ``demo``: the embedded workbench of the README (SQLite, a file-system Celery broker, no external
  service); a secret key is generated once and kept in the data directory.
- ``test``: what the test suite runs under.
- ``development``: like demo, for people working on the code.

Every variable is listed, with its default, in the README.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

ENVIRONMENTS = ("production", "demo", "test", "development")


def env_str(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ImproperlyConfigured(
            f"Environment variable {name} is required when WORKBENCH_ENV={WORKBENCH_ENV}. "
            "Set it, or run the embedded demo with WORKBENCH_ENV=demo (see README)."
        )
    return default


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from exc


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


WORKBENCH_ENV = os.environ.get("WORKBENCH_ENV", "production").strip() or "production"
if WORKBENCH_ENV not in ENVIRONMENTS:
    raise ImproperlyConfigured(
        f"WORKBENCH_ENV={WORKBENCH_ENV!r} is unknown; use one of {', '.join(ENVIRONMENTS)}."
    )
IS_PRODUCTION = WORKBENCH_ENV == "production"
IS_EMBEDDED = WORKBENCH_ENV in ("demo", "development")

DEBUG = env_bool("DJANGO_DEBUG", False)

# Where the embedded database, broker folders, generated secret and default storage live.
DATA_DIR = Path(env_str("WORKBENCH_DATA_DIR", str(BASE_DIR / "var"))).resolve()
# Audio, spectrograms, checkpoints and dataset files: big payloads live here, rows keep hashes.
STORAGE_ROOT = Path(env_str("WORKBENCH_STORAGE_ROOT", str(DATA_DIR / "storage"))).resolve()


def _embedded_secret_key() -> str:
    """A per-installation key for demo and development, created once so sessions survive restarts."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


if IS_PRODUCTION:
    SECRET_KEY = env_str("DJANGO_SECRET_KEY")
elif WORKBENCH_ENV == "test":
    SECRET_KEY = env_str("DJANGO_SECRET_KEY", "test-only-secret-key-" + "x" * 40)
else:
    SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _embedded_secret_key()

ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [] if IS_PRODUCTION else ["localhost", "127.0.0.1", "[::1]"]
)
if IS_PRODUCTION and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS is required in production: a comma-separated list of host names."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # makes runserver speak ASGI, so websockets work in development too
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_htmx",
    "template_partials",
    "annotations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is explicitly marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "workbench.urls"
WSGI_APPLICATION = "workbench.wsgi.application"
ASGI_APPLICATION = "workbench.asgi.application"

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
                "annotations.core.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Unset DATABASE_URL means the embedded SQLite file; PostgreSQL (postgres://...) for real use.
_database_url = os.environ.get("DATABASE_URL", "").strip()
if _database_url:
    DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool(
        "WORKBENCH_DB_POOL", True
    ):
        # Under ASGI every request runs in a fresh thread, so CONN_MAX_AGE reuses nothing: each
        # request opened a new PostgreSQL backend (cold catalog caches: 3.5 ms instead of 0.3 ms for
        # a trivial query) and left the old one to the garbage collector, until "too many clients"
        # under load (benchmarks/review_load.py). A per-process psycopg pool fixes both.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env_int("WORKBENCH_DB_POOL_MAX", 16),
            "timeout": 30,
        }
elif IS_PRODUCTION:
    raise ImproperlyConfigured(
        "DATABASE_URL is required in production, e.g. postgres://user:pass@host:5432/workbench."
    )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "workbench.sqlite3"),
            # WAL lets the web server and the Celery worker use the file at the same time.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
if WORKBENCH_ENV == "test":
    # Hashing is deliberately slow; tests create many users and only need it to work.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files and storage ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Front-end libraries come from npm at set-up (scripts/setup.sh), never copied into the repo.
# Each entry: (URL prefix under static/vendor/, folder inside node_modules).
VENDOR_ASSETS = {
    "chartjs": "chart.js/dist",
    "htmx": "htmx.org/dist",
    "wavesurfer": "wavesurfer.js/dist",
}
STATICFILES_DIRS = [BASE_DIR / "static"] + [
    (f"vendor/{prefix}", BASE_DIR / "node_modules" / folder)
    for prefix, folder in VENDOR_ASSETS.items()
]
MEDIA_ROOT = STORAGE_ROOT
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if WORKBENCH_ENV == "test"
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not IS_PRODUCTION
if WORKBENCH_ENV == "test":
    # Each test client loads the middleware anew, and WhiteNoise without autorefresh lists and
    # stats every static file then (~0.05 s per client, a minute or more per suite run). With it,
    # WhiteNoise finds a static file when one is asked for: the same files, served the same way.
    WHITENOISE_AUTOREFRESH = True
if not IS_PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Limits on what a browser upload may carry; songs issue reads these.
WORKBENCH_MAX_UPLOAD_BYTES = env_int("WORKBENCH_MAX_UPLOAD_BYTES", 1024 * 1024 * 1024)
WORKBENCH_MAX_SONG_SECONDS = env_int("WORKBENCH_MAX_SONG_SECONDS", 3 * 60 * 60)
# Music Flamingo hears at most 20 minutes; longer songs are accepted and marked.
WORKBENCH_MODEL_WINDOW_SECONDS = 20 * 60

# Review work: how many experts review each generation, how long a claimed task is held for an
# expert (every save renews it), and how many unsubmitted tasks one expert may hold at once.
WORKBENCH_REVIEWS_PER_GENERATION = env_int("WORKBENCH_REVIEWS_PER_GENERATION", 2)
WORKBENCH_REVIEW_CLAIM_MINUTES = env_int("WORKBENCH_REVIEW_CLAIM_MINUTES", 60)
WORKBENCH_MAX_OPEN_REVIEWS = env_int("WORKBENCH_MAX_OPEN_REVIEWS", 3)
# Music Flamingo on the gpu_inference workers. Device "auto" is CUDA when present; an empty dtype
# uses the model version's own. Batches are bounded by count and by 30-second audio windows; a
# request is cut into tasks of at most TASK_SIZE generations so many GPU workers share it.
WORKBENCH_MODEL_BACKEND = env_str("WORKBENCH_MODEL_BACKEND", "transformers")
WORKBENCH_MODEL_DEVICE = env_str("WORKBENCH_MODEL_DEVICE", "auto")
WORKBENCH_MODEL_DTYPE = env_str("WORKBENCH_MODEL_DTYPE", "")
WORKBENCH_MODEL_ATTN_IMPLEMENTATION = env_str("WORKBENCH_MODEL_ATTN_IMPLEMENTATION", "sdpa")
WORKBENCH_MODEL_MAX_BATCH_SIZE = env_int("WORKBENCH_MODEL_MAX_BATCH_SIZE", 8)
WORKBENCH_MODEL_MAX_BATCH_WINDOWS = env_int("WORKBENCH_MODEL_MAX_BATCH_WINDOWS", 80)
WORKBENCH_MODEL_TASK_SIZE = env_int("WORKBENCH_MODEL_TASK_SIZE", 16)
# Evaluations decode greedily up to this many new tokens (recorded with each evaluation). The
# embedded demo's tiny random model never stops on its own, so the demo keeps its outputs short.
WORKBENCH_EVALUATION_MAX_NEW_TOKENS = env_int(
    "WORKBENCH_EVALUATION_MAX_NEW_TOKENS", 48 if WORKBENCH_ENV == "demo" else 1024
)
# Training runs on the gpu_training workers: "inprocess" trains inside the worker (one GPU, and the
# CPU tests); "subprocess" in a child Python process; "accelerate" under `accelerate launch` across
# the machine's GPUs with WORKBENCH_ACCELERATE_CONFIG (fsdp, deepspeed_zero3, or a config file path).
WORKBENCH_TRAINING_LAUNCHER = env_str("WORKBENCH_TRAINING_LAUNCHER", "inprocess")
if WORKBENCH_TRAINING_LAUNCHER not in ("inprocess", "subprocess", "accelerate"):
    raise ImproperlyConfigured(
        f"WORKBENCH_TRAINING_LAUNCHER={WORKBENCH_TRAINING_LAUNCHER!r} is unknown; use inprocess, "
        "subprocess or accelerate."
    )
WORKBENCH_ACCELERATE_CONFIG = env_str("WORKBENCH_ACCELERATE_CONFIG", "fsdp")

# --- Security -------------------------------------------------------------------------------
# HTTPS is assumed in production (behind a TLS-terminating proxy); the demo is plain localhost HTTP.
USE_HTTPS = env_bool("WORKBENCH_HTTPS", IS_PRODUCTION)
SESSION_COOKIE_SECURE = USE_HTTPS
CSRF_COOKIE_SECURE = USE_HTTPS
SECURE_SSL_REDIRECT = USE_HTTPS and env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Load balancers probe over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 31536000 if USE_HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = USE_HTTPS
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", False)
# Preloading commits the whole domain to HTTPS in browsers for months: the domain owner opts in
# (README, "Security checks"), so the check that nags about it is silenced until they do.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
if env_bool("WORKBENCH_BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Celery ---------------------------------------------------------------------------------
# The embedded default uses kombu's file-system transport and a file result backend, so the demo's
# worker needs no broker service. Real use: Redis or RabbitMQ.


def filesystem_broker_options(data_dir: Path) -> dict[str, object]:
    """kombu's file-system transport with every folder it keeps under ``data_dir/broker``.

    ``control_folder`` above all: it holds the exchange → queue bindings, and kombu's default is
    ``./control`` relative to whatever directory a process starts in. Bindings left there by an
    older queue layout (every queue bound to the ``audio`` exchange) once made one publish three
    messages; under the data directory they belong to one installation and start fresh with it.
    """
    broker_dir = data_dir / "broker"
    for sub in ("queue", "processed", "control"):
        (broker_dir / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(broker_dir / "queue"),
        "data_folder_out": str(broker_dir / "queue"),
        "control_folder": str(broker_dir / "control"),
        "processed_folder": str(broker_dir / "processed"),
        "store_processed": False,
    }


CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "").strip()
if not CELERY_BROKER_URL:
    if IS_PRODUCTION:
        raise ImproperlyConfigured(
            "CELERY_BROKER_URL is required in production, e.g. redis://host:6379/0 or amqp://..."
        )
    CELERY_BROKER_URL = "filesystem://localhost//"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(DATA_DIR)
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Redis hands an unacknowledged task to another worker after this many seconds; with late acks
    # it must exceed the longest task (one chunk of generations), or long runs would be duplicated.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 6 * 60 * 60)
    }
_results_dir = DATA_DIR / "celery-results"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", "").strip()
if not CELERY_RESULT_BACKEND:
    if CELERY_BROKER_URL.startswith("redis://"):
        CELERY_RESULT_BACKEND = CELERY_BROKER_URL
    else:
        _results_dir.mkdir(parents=True, exist_ok=True)
        CELERY_RESULT_BACKEND = _results_dir.as_uri()
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged after it finishes, so a killed worker's task is redelivered; long GPU tasks
# guard themselves with a status check before starting again (see STYLE.md, "Tasks").
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False

# --- Channels -------------------------------------------------------------------------------
# Websockets only notify; the database is the truth. Redis links the web and worker processes in
# real use. The embedded default is in-memory: pages then refresh from the database by polling.
CHANNEL_LAYER_URL = os.environ.get("CHANNEL_LAYER_URL", "").strip()
if CHANNEL_LAYER_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [CHANNEL_LAYER_URL]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("WORKBENCH_LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}},
}

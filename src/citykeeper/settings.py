"""Django settings, read from the environment and strict about it (healthchecks style).

SQLite (WAL) is the embedded default; ``CITYKEEPER_DB=postgres`` (with the
``CITYKEEPER_PG_*`` variables) switches to PostgreSQL.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parent
VAR_DIR = Path(os.environ.get("CITYKEEPER_VAR", Path.cwd() / "var"))


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default)
    if value not in ("True", "False"):
        raise ImproperlyConfigured(f"{name} must be True or False, not {value!r}")
    return value == "True"


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {value!r}") from None


DEBUG = envbool("CITYKEEPER_DEBUG", "False")
SECRET_KEY = os.environ.get("CITYKEEPER_SECRET_KEY", "insecure-dev-key-change-me-in-production")
ALLOWED_HOSTS = os.environ.get("CITYKEEPER_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CITYKEEPER_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "ninja",
    "citykeeper.store",
    "citykeeper.services",
    "citykeeper.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "citykeeper.urls"
WSGI_APPLICATION = "citykeeper.wsgi.application"
AUTH_USER_MODEL = "store.User"
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ]
        },
    }
]

DB_ENGINE = os.environ.get("CITYKEEPER_DB", "sqlite")
if DB_ENGINE == "sqlite":
    # The embedded database lives in var/; a fresh clone has none yet.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "citykeeper.store.sqlite",
            "NAME": os.environ.get("CITYKEEPER_SQLITE_PATH", str(VAR_DIR / "citykeeper.sqlite3")),
            # IMMEDIATE takes the write lock at BEGIN, so a read-then-write transaction
            # never fails half-way with "database is locked"; WAL lets readers go on.
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                    # 64 MB of page cache (the default is 2 MB): a big import or the demo load
                    # writes one long transaction that would otherwise spill to disk.
                    " PRAGMA cache_size=-65536;"
                ),
            },
            # Threads in the concurrency tests need a file, not a private in-memory DB.
            "TEST": {"NAME": os.environ.get("CITYKEEPER_SQLITE_TEST_PATH", str(VAR_DIR / "test.sqlite3"))},
        }
    }
elif DB_ENGINE == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": os.environ.get("CITYKEEPER_PG_NAME", "citykeeper"),
            "USER": os.environ.get("CITYKEEPER_PG_USER", "postgres"),
            "PASSWORD": os.environ.get("CITYKEEPER_PG_PASSWORD", ""),
            "HOST": os.environ.get("CITYKEEPER_PG_HOST", "127.0.0.1"),
            "PORT": envint("CITYKEEPER_PG_PORT", "5432"),
            "CONN_MAX_AGE": 60,
            "TEST": {"NAME": os.environ.get("CITYKEEPER_PG_TEST_NAME", "test_citykeeper")},
        }
    }
else:
    raise ImproperlyConfigured(f"CITYKEEPER_DB must be 'sqlite' or 'postgres', not {DB_ENGINE!r}")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("简体中文")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = os.environ.get("CITYKEEPER_TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True


def s3_storage() -> dict | None:
    """Photos (case attachments) in an S3-compatible bucket when CITYKEEPER_S3_BUCKET is set
    (AWS, MinIO, Ceph, SeaweedFS, Aliyun OSS, Tencent COS, ...); None keeps them under
    MEDIA_ROOT. The bucket stays private: originals keep their EXIF and GPS as evidence, so
    no object is public and the app serves every download itself."""
    bucket = os.environ.get("CITYKEEPER_S3_BUCKET", "")
    if not bucket:
        return None
    from importlib.util import find_spec

    if find_spec("storages") is None or find_spec("boto3") is None:
        raise ImproperlyConfigured(
            'CITYKEEPER_S3_BUCKET is set but django-storages and boto3 are not installed: pip install "citykeeper[s3]"'
        )
    keys = ("CITYKEEPER_S3_ACCESS_KEY_ID", "CITYKEEPER_S3_SECRET_ACCESS_KEY")
    missing = [name for name in keys if not os.environ.get(name)]
    if missing:
        raise ImproperlyConfigured(f"CITYKEEPER_S3_BUCKET is set, so {' and '.join(missing)} must be set too")
    addressing = os.environ.get("CITYKEEPER_S3_ADDRESSING_STYLE", "auto")
    if addressing not in ("auto", "path", "virtual"):
        raise ImproperlyConfigured(f"CITYKEEPER_S3_ADDRESSING_STYLE must be auto, path or virtual, not {addressing!r}")
    from botocore.config import Config

    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": os.environ.get("CITYKEEPER_S3_ENDPOINT_URL") or None,
            "access_key": os.environ["CITYKEEPER_S3_ACCESS_KEY_ID"],
            "secret_key": os.environ["CITYKEEPER_S3_SECRET_ACCESS_KEY"],
            "region_name": os.environ.get("CITYKEEPER_S3_REGION") or None,
            # Checksums only where S3 requires them, as before boto3 1.36: several S3-compatible
            # services refuse the CRC32 headers that boto3 now sends with every upload by default.
            # SigV4 for signed URLs too (botocore would presign with the deprecated SigV2).
            "client_config": Config(
                signature_version="s3v4",
                s3={"addressing_style": addressing},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
            "location": os.environ.get("CITYKEEPER_S3_PREFIX", "").strip("/"),
            # Private: objects get the bucket's own (private) ACL, URLs are signed and short-lived,
            # and a second photo with the same name never replaces the first.
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }


STORAGES["default"] = s3_storage() or STORAGES["default"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"kv": {"()": "citykeeper.logging.KeyValueFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "kv"}},
    "loggers": {"citykeeper": {"handlers": ["console"], "level": os.environ.get("CITYKEEPER_LOG_LEVEL", "INFO")}},
}

# Business settings with code defaults; the database rows (stage limits, calendar)
# are the source of truth once loaded.
CITYKEEPER = {
    "CITY_CODE": os.environ.get("CITYKEEPER_CITY_CODE", "320300"),
    "WARN_RATIO": 0.8,
    "TICKER_INTERVAL_SECONDS": envint("CITYKEEPER_TICKER_INTERVAL", "15"),
    # A raster tile URL template for the maps ("https://…/{z}/{x}/{y}.png"); empty: the maps draw
    # the city's own area outlines only, which works on a closed network with no tile server.
    "MAP_TILE_URL": os.environ.get("CITYKEEPER_MAP_TILE_URL", ""),
    # The base map under every map (services/basemap.py, docs/basemaps.md): none (default: the
    # outlines only) | osm | tianditu (needs BASEMAP_KEY, the tk) | amap (GCJ-02) | custom
    # (MAP_TILE_URL; unset BASEMAP with a MAP_TILE_URL also means custom).
    "BASEMAP": os.environ.get("CITYKEEPER_BASEMAP", ""),
    "BASEMAP_KEY": os.environ.get("CITYKEEPER_BASEMAP_KEY", ""),
    # For custom tiles: their CRS (wgs84 or gcj02), the {s} subdomains, attribution, max zoom.
    "MAP_TILE_CRS": os.environ.get("CITYKEEPER_MAP_TILE_CRS", ""),
    "MAP_TILE_SUBDOMAINS": os.environ.get("CITYKEEPER_MAP_TILE_SUBDOMAINS", ""),
    "MAP_TILE_ATTRIBUTION": os.environ.get("CITYKEEPER_MAP_TILE_ATTRIBUTION", ""),
    "MAP_TILE_MAX_ZOOM": os.environ.get("CITYKEEPER_MAP_TILE_MAX_ZOOM", ""),
    # Reports a client address may send through the public portal per hour (flood control).
    "PORTAL_REPORTS_PER_HOUR": envint("CITYKEEPER_PORTAL_REPORTS_PER_HOUR", "10"),
    # Behind a reverse proxy: the header that carries the client's address (e.g. X-Real-IP).
    "CLIENT_ADDRESS_HEADER": os.environ.get("CITYKEEPER_CLIENT_ADDRESS_HEADER", ""),
}

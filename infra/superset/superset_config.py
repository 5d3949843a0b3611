"""Superset's configuration for the lakehouse (SUPERSET_CONFIG_PATH points here).

Loaded by Superset's own interpreter, not the project's. No secret is in this file: the launcher
passes them in the environment (infra/services/superset.py), which no other process can read.
"""

import os
from pathlib import Path

# Signs session cookies and encrypts the database passwords Superset stores (the analyst's
# Trino password): Superset refuses to start without one of its own.
SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
# Users, dashboards, charts: a database of the project's PostgreSQL, with a role of its own.
SQLALCHEMY_DATABASE_URI = os.environ["SUPERSET_METADATA_URI"]

# Chart results are reused for this long (LAKEHOUSE_SUPERSET__CACHE_TIMEOUT_S): a dashboard
# opened twice asks Trino once. A new publication shows at the latest after this much time.
_DATA_DIR = Path(os.environ["SUPERSET_DATA_DIR"])
_CACHE_TIMEOUT = int(os.environ.get("SUPERSET_CACHE_TIMEOUT_S", "300"))
DATA_CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache" if _CACHE_TIMEOUT else "NullCache",
    "CACHE_DIR": str(_DATA_DIR / "cache" / "data"),
    "CACHE_DEFAULT_TIMEOUT": _CACHE_TIMEOUT,
    "CACHE_THRESHOLD": 2000,
}
CACHE_CONFIG = {
    "CACHE_TYPE": "FileSystemCache",
    "CACHE_DIR": str(_DATA_DIR / "cache" / "objects"),
    "CACHE_DEFAULT_TIMEOUT": 3600,
}

FEATURE_FLAGS = {
    # A dashboard of a dozen charts renders them all at once rather than as they scroll into view:
    # what people see first, what screenshots show, and what the browser test waits for.
    "DASHBOARD_VIRTUALIZATION": False,
}

# A chart's query may scan a day of CDRs on two cores: give Trino time before giving up.
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 120

# Only the lakehouse's Trino is a database here: no SQLite files, no example data.
PREVENT_UNSAFE_DB_CONNECTIONS = True
# Pages load nothing from outside this server: Superset's default policy also lets them fetch a
# telemetry pixel (scarf.sh), map tiles and web fonts from the internet.
MAPBOX_API_KEY = ""
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

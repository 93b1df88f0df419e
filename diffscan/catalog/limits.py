"""How much of a stranger's file diffscan will read: limits checked before the work, stated in errors."""

# Catalog uploads into the app, in MB: mirrors server.maxUploadSize in .streamlit/config.toml, and
# `diffscan app` passes it as a flag so the limit holds whatever folder the app is started from.
UPLOAD_LIMIT_MB = 500

"""The Streamlit front end: page layouts over what the diffscan core returns (no analysis here).

`app.py` is the entrypoint; `state` picks and caches the index and the analyses; each page module
(`competitors`, `saturation`, `niches`, `catalog`) has a `render()` that `pages/<name>.py` runs.
"""

# Catalog uploads, in MB: mirrors server.maxUploadSize in .streamlit/config.toml, and `diffscan app`
# passes it as a flag so the limit holds whatever folder the app is started from.
UPLOAD_LIMIT_MB = 500

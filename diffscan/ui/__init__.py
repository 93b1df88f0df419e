"""The Streamlit front end: page layouts over what the diffscan core returns (no analysis here).

`app.py` is the entrypoint; `state` picks and caches the index and the analyses; each page module
(`competitors`, `saturation`, `niches`, `catalog`) has a `render()` that `pages/<name>.py` runs.
"""

"""Models that turn listing text into vectors, offline: model tiers (`models`), the local encoder
(`local`), the embedding cache (`cache`) and the Ray embedder (`ray`)."""

import os

# Never reach a model hub at run time: weights come from an installed package or a local folder.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

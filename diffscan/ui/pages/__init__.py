"""Page scripts that `app.py` runs through st.navigation; each only calls its page module's render()."""

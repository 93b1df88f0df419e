"""Streamlit page script: Catalog (run by app.py through st.navigation)."""

from diffscan.ui import catalog

if __name__ == "__main__":  # Streamlit runs page scripts as __main__; a plain import draws nothing
    catalog.render()

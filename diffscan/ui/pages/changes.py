"""Streamlit page script: Changes (run by app.py through st.navigation)."""

from diffscan.ui import changes

if __name__ == "__main__":  # Streamlit runs page scripts as __main__; a plain import draws nothing
    changes.render()

"""Streamlit page script: Saturation map (run by app.py through st.navigation)."""

from diffscan.ui import saturation

if __name__ == "__main__":  # Streamlit runs page scripts as __main__; a plain import draws nothing
    saturation.render()

"""The only streamlit code: pages/, shared widgets and the cache wrappers."""

"""Latent maths, projections, figures and images as pure functions.

Only explorer/ui imports streamlit; everything else here is testable without it.
"""

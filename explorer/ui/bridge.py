"""What the app's st.components.v2 components are sent: their data as one JSON text.

Streamlit checks each list or dict value of a component's `data` dict for a dataframe, and that
check imports pandas and pyarrow (about 2 s on a cold start, before the first map could be drawn).
A string is sent as it is; each component's JS reads it back with JSON.parse(component.data).
"""

from __future__ import annotations

import json

import numpy as np


def component_data(data: dict) -> str:
    """data (numpy arrays and scalars allowed) as the JSON text a component's JS parses."""
    return json.dumps(data, default=_plain)


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be sent to a component")

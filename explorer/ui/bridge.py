"""What the app's st.components.v2 components are sent: {"json": their data as one JSON text}.

Streamlit checks a component's `data` for dataframes, and that check imports pandas and pyarrow
(about 2 s on a cold start, before the first map could be drawn) for any value but a dict's plain
scalars and strings (a bare string too). So the data travels as the one string value of a dict; each
component's JS reads it back with JSON.parse(component.data.json).
"""

from __future__ import annotations

import json

import numpy as np


def component_data(data: dict) -> dict[str, str]:
    """data (numpy arrays and scalars allowed) as {"json": text} for a component's JS to parse."""
    return {"json": json.dumps(data, default=_plain)}


def _plain(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    raise TypeError(f"{type(value).__name__} cannot be sent to a component")

"""Makes and judges autoencoders: datasets, AE/VAE models, fit(), checkpoints, metrics.

Never imports streamlit: the app (explorer/ui) sits on top of this package, not inside it.
"""

from .errors import CheckpointError, DatasetError, LatentExplorerError, TrainingError

__all__ = ["CheckpointError", "DatasetError", "LatentExplorerError", "TrainingError"]

"""One exception type for every problem a user can cause and fix.

The CLI prints these as one line (no traceback); the app shows them with st.error.
"""


class LatentExplorerError(Exception):
    """Bad input or a failed run, with a message that says what to do."""


class DatasetError(LatentExplorerError):
    pass


class CheckpointError(LatentExplorerError):
    pass


class TrainingError(LatentExplorerError):
    pass


class TrainingCancelled(TrainingError):
    """A run stopped on request (cancel button, time limit, Ctrl-C): nothing was saved."""

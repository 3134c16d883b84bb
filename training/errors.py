"""One exception type for every problem a user can cause and fix.

The CLI prints these as one line (no traceback); the app shows them with st.error. str(exc) is the
English message (the CLI stays English); `key` and `values`, where given, name the same message in
the app's catalogues (explorer/i18n/*.po), so the app shows it in the reader's language.
"""


class LatentExplorerError(Exception):
    """Bad input or a failed run, with a message that says what to do."""

    def __init__(self, message: str = "", *, key: str | None = None, **values) -> None:
        super().__init__(message)
        self.key = key  # a catalogue key whose English text, formatted with values, is `message`
        self.values = values


class DatasetError(LatentExplorerError):
    pass


class CheckpointError(LatentExplorerError):
    pass


class TrainingError(LatentExplorerError):
    pass


class TrainingCancelled(TrainingError):
    """A run stopped on request (cancel button, time limit, Ctrl-C): nothing was saved."""


def not_written(path, exc: OSError, cls: type[LatentExplorerError] = LatentExplorerError) -> LatentExplorerError:
    """A failed write (the disk full or read-only, the folder removed) as the one message the CLI prints
    and the app shows in the reader's language; the writer has removed what it wrote."""
    reason = exc.strerror or type(exc).__name__
    return cls(
        f"{path}: could not be written ({reason}); nothing was saved",
        key="err_not_written",
        folder=str(path),
        reason=reason,
    )

"""One exception type for every problem a user can cause and fix.

The CLI prints these as one line (no traceback); the app shows them with st.error. str(exc) is the
English message (the CLI stays English); `key` and `values`, where given, name the same message in
the app's catalogues (explorer/i18n/*.po), so the app shows it in the reader's language. Every raise in training/
has one (tests/test_i18n.py reads them all: the key's English text is the message, its placeholders the values).
A value may be keyed words itself (a Phrase, or an error), and a run's job.json keeps a failure as record(...).
"""


class LatentExplorerError(Exception):
    """Bad input or a failed run, with a message that says what to do."""

    def __init__(self, message: str = "", *, key: str | None = None, **values) -> None:
        super().__init__(message)
        self.key = key  # a catalogue key whose English text, formatted with values, is `message`
        self.values = values


class Phrase(str):
    """Words inside a message (a phase, a kind of file) that the app words in the reader's language: the English
    text, with the catalogue key and values that name it. A value of a LatentExplorerError may be one."""

    def __new__(cls, text: str, key: str, **values):
        phrase = super().__new__(cls, text)
        phrase.key, phrase.values = key, values
        return phrase


class Quoted(Phrase):
    """Text from outside this code, kept as it was written: onnxruntime's or Python's exception text, a dead
    worker's last log line. str() is that text (the CLI prints it); key names, in the app's catalogues, what kind
    of failure it was recognised as (or only where the text is). The app shows that sentence and the text itself
    only in a collapsed "original text" detail (explorer/ui/lang.py show_originals)."""

    def __new__(cls, text: str, key: str = "quoted_error"):
        return super().__new__(cls, text, key)


def originals(words, depth: int = 0) -> list[str]:
    """The quoted texts inside an error or phrase (its values, and theirs), in order, each once."""
    found = [str(words)] if isinstance(words, Quoted) else []
    for value in getattr(words, "values", {}).values() if depth <= MAX_RECORD_DEPTH else ():
        found += [q for q in originals(value, depth + 1) if q not in found]
    return found


MAX_RECORD_DEPTH = 3  # an error inside an error inside an error: deeper is not what this code writes


def record(words: LatentExplorerError | Phrase) -> dict:
    """A keyed error or phrase as JSON (a run's job.json keeps why it failed so, for the app to word it):
    {"key", "values"}, a value that is itself keyed as the same kind of dict, other values numbers or text."""
    values = {}
    for name, value in words.values.items():
        if isinstance(value, Quoted):
            values[name] = {"key": value.key, "values": {}, "quoted": str(value)[:1000]}
        elif isinstance(value, (LatentExplorerError, Phrase)) and getattr(value, "key", None):
            values[name] = record(value)
        else:
            values[name] = value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)
    return {"key": words.key, "values": values}


def from_record(data, depth: int = 0) -> Phrase | None:
    """The words a record names (English text left empty: the app words it from the key), or None when data is
    not a record this code writes (job.json is as untrusted as any file)."""
    if not (isinstance(data, dict) and isinstance(data.get("key"), str) and isinstance(data.get("values"), dict)):
        return None
    if depth > MAX_RECORD_DEPTH or len(data["key"]) > 100 or len(data["values"]) > 20:
        return None
    if isinstance(data.get("quoted"), str) and not data["values"]:
        return Quoted(data["quoted"][:1000], data["key"])
    values = {}
    for name, value in data["values"].items():
        if isinstance(value, dict):
            value = from_record(value, depth + 1)
        elif not isinstance(value, (int, float, str)) or isinstance(value, bool):
            value = None
        if not isinstance(name, str) or value is None:
            return None
        values[name] = value[:1000] if isinstance(value, str) and not isinstance(value, Phrase) else value
    return Phrase("", data["key"], **values)


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

"""Warning classes raised by scribe (filter them by class, never by message)."""


class ScribeWarning(UserWarning):
    """Base class of every warning scribe emits."""


class DataWarning(ScribeWarning):
    """The count data is valid but unusual (all-zero cells or genes, ...)."""

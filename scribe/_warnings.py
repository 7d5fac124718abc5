"""Warning classes raised by scribe (filter them by class, never by message)."""


class ScribeWarning(UserWarning):
    """Base class of every warning scribe emits."""


class DataWarning(ScribeWarning):
    """The count data is valid but unusual (all-zero cells or genes, ...)."""


class McmcWarning(ScribeWarning):
    """MCMC draws show signs of being unreliable: R-hat above 1.01, an effective sample
    size below 100 per chain, divergent transitions, or trees at the depth limit."""


class TrainingWarning(ScribeWarning):
    """SVI or VAE training skipped steps whose loss or gradients were not finite."""

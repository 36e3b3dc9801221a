"""Alliance: rehearse the hardest minutes of a consultation with a simulated patient."""

__version__ = "0.1.0"

"""Training, export and evaluation of the default tiny-shapes model (see models/README.md)."""

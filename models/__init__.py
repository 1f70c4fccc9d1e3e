"""Model packages, export scripts, the reference pipeline and the default model's training."""

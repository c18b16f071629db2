"""The training system, kept apart from the models: augmentation, the trainer, the mean-shape baseline."""

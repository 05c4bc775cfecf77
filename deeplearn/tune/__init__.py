"""Hyperparameter search: `deeplearn tune`, Optuna over any option of `deeplearn train`.

The lecture's "Real Life Deep Network Training" names choosing hyperparameters as part of the job. Here a study
samples train options from a search space (`space`), trains each trial as a normal run directory through the
engine (`trial`), stops unpromising trials early on their validation metrics (Optuna pruners), keeps the study in
an Optuna RDB storage that several workers may share (`study`), and ends with a table and a plot (`report`).
"""

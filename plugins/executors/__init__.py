"""Built-in executors: serial, local (worker processes), submitit (Slurm), ray."""

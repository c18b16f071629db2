"""Built-in executors: serial, local (worker processes), slurm (a Slurm job array through submitit; alias
``submitit``), ray."""

"""Equal tuning: every combination gets the same hyper-parameter search budget, on its training part only."""

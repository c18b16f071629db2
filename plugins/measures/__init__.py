"""Built-in clinical measures: acetabular index, IHDI grade, Tönnis grade, Hilgenreiner's h and d, and
Wiberg's centre-edge angle."""

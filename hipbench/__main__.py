"""``python -m hipbench`` runs the command-line interface."""

from hipbench.cli import main

if __name__ == "__main__":
    main()

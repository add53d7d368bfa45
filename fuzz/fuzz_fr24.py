"""atheris target: the fr24 parser (see fuzz/_target.py)."""

from _target import main

if __name__ == "__main__":
    main("fr24")

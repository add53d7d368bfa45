"""atheris target: the readsb-api parser (see fuzz/_target.py)."""

from _target import main

if __name__ == "__main__":
    main("readsb-api")

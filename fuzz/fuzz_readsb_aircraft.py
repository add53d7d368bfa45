"""atheris target: the readsb-aircraft parser (see fuzz/_target.py)."""

from _target import main

if __name__ == "__main__":
    main("readsb-aircraft")

"""atheris target: the watch-rules parser (see fuzz/_target.py)."""

from _target import main

if __name__ == "__main__":
    main("watch-rules")

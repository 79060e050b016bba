"""``python -m geoplan`` runs the CLI."""

from geoplan.cli import main

if __name__ == "__main__":
    main()

"""The ``geoneurips`` command line (typer + rich). See :mod:`geoneurips.cli.main`."""

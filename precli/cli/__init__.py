"""The command line: Typer signatures in app, cross-option rules, terminal helpers, views."""

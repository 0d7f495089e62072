"""The command line: Typer signatures in app, every cross-option rule in options, terminal
helpers and click glue, command bodies by family, Rich views."""

"""Command line for operators (typer + rich)."""

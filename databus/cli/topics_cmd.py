"""placeholder"""
import click


@click.group()
def topics() -> None:
    """Topics."""

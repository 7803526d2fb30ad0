"""The `podplay` command. Each command group lives in its own module, imported on first use.

Errors meant for people (`podplay.errors.PodplayError`) print one message and exit with its
status; nothing else is caught, so a bug keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from podplay.errors import PodplayError

# command name -> (module, attribute). Add a command by adding a line here.
COMMANDS: dict[str, tuple[str, str]] = {
    "cluster": ("podplay.cli.cluster", "cluster"),
    "image": ("podplay.cli.image", "image"),
    "compile": ("podplay.cli.compile", "compile_cmd"),
    "up": ("podplay.cli.up", "up"),
    "preview": ("podplay.cli.preview", "preview"),
    "destroy": ("podplay.cli.destroy", "destroy"),
    "get": ("podplay.cli.get", "get"),
    "describe": ("podplay.cli.describe", "describe"),
    "logs": ("podplay.cli.logs", "logs"),
    "verify": ("podplay.cli.verify", "verify"),
}


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (keeps `podplay --help` fast)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if self._load(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(cmd_name)

    @staticmethod
    def _load(name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attr = COMMANDS[name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name == module_name:  # command not built yet
                return None
            raise
        return getattr(module, attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="podplay")
def cli() -> None:
    """Kubernetes-style clusters described in Python, delivered by Ansible."""


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point: run the CLI, turning PodplayError into message + status."""
    try:
        cli.main(args=argv, prog_name="podplay", standalone_mode=False)
    except PodplayError as err:
        click.echo(f"error: {err}", err=True)
        return err.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        err.show()
        return 2 if isinstance(err, click.UsageError) else err.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

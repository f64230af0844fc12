"""``tollgate``: the vendor's operator tool. It talks to the table with the operator's own AWS credentials
(IAM), never through a public route. ``tollgate --local …`` aims it at the local stack.

The commands live in ``infra/cli/commands/`` and are registered in one place (``COMMANDS`` there); this
module builds the root group and maps every failure to SPEC's exit codes with one line on stderr."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from infra.cli.commands import COMMANDS
from infra.cli.session import EXIT_FAILED, EXIT_NOT_FOUND, EXIT_OK, EXIT_USAGE, CheckFailed, Session, global_options

EPILOG = """\b
--local, --stage, --table and --json may come anywhere on the line.
Exit codes: 0 done, 1 a check failed (or the store refused), 2 bad usage, 3 not found.

\b
Examples:
  tollgate --local tenants
  tollgate --stage prod grant --tenant tn_… --tokens 500 --reason 'support credit'
  tollgate audit --local --json
  tollgate tenants --help"""


@click.group(
    name="tollgate",
    epilog=EPILOG,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110},
)
@global_options
def cli() -> None:
    """Operate a Tollgate deployment: tenants, tokens, purchases, the catalog, and the checks that the books
    add up. Prints tables for people and one JSON document with --json."""


for _command in COMMANDS:
    cli.add_command(_command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code (``tollgate`` the script calls this and exits with it)."""
    from tollgate.core.errors import InvalidField, MalformedRequest, NotFound, TollgateError

    args = list(sys.argv[1:] if argv is None else argv)
    try:
        done = cli.main(args=args, prog_name="tollgate", obj=Session(), standalone_mode=False)
    except click.exceptions.Exit as stopped:  # click's own exits
        return int(stopped.exit_code)
    except click.ClickException as error:  # bad usage (2), or a command's refusal with its own code
        error.show()
        return int(error.exit_code)
    except click.Abort:
        _fail("aborted")
        return EXIT_FAILED
    except CheckFailed:  # the check printed what it found
        return EXIT_FAILED
    except NotFound as error:
        _fail(f"{error.code}: {error.message}")
        return EXIT_NOT_FOUND
    except (InvalidField, MalformedRequest) as error:
        _fail(f"{error.code}: {error.message}")
        return EXIT_USAGE
    except TollgateError as error:
        _fail(f"{error.code}: {error.message}")
        return EXIT_FAILED
    except Exception as error:  # the operator sees what failed, not a traceback
        _fail(f"failed: {type(error).__name__}: {error}")
        return EXIT_FAILED
    return done if isinstance(done, int) else EXIT_OK  # --help answers its exit code


def _fail(text: str) -> None:
    click.echo(f"tollgate: {text}", err=True)


if __name__ == "__main__":
    sys.exit(main())

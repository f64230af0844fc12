"""Every command of ``tollgate``, registered in one place: ``COMMANDS``. A new command is a small module
here (built with ``infra.cli.output.command`` or ``group``) added to this tuple; docs/operations.md says how."""

from __future__ import annotations

import click

from infra.cli.commands.billing import overdraft, refills
from infra.cli.commands.catalog import catalog
from infra.cli.commands.checks import audit, decisions
from infra.cli.commands.grant import grant
from infra.cli.commands.purchases import purchases, reconcile
from infra.cli.commands.tenants import resume, suspend, tenants
from infra.cli.commands.usage import usage

COMMANDS: tuple[click.Command, ...] = (
    tenants,
    grant,
    suspend,
    resume,
    audit,
    reconcile,
    purchases,
    usage,
    decisions,
    catalog,
    overdraft,
    refills,
)

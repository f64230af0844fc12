"""``python -m infra.local``: the same as ``python -m infra.local.stack``."""

import sys

from infra.local.stack import main

sys.exit(main())

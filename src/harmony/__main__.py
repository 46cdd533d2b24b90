"""``python -m harmony``: the same as the ``harmony`` command."""

import sys

from harmony._cli import main

sys.exit(main())

"""``python -m api.cli``: the `outdial` console script."""

import sys

from api.cli import main

sys.exit(main())

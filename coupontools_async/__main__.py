"""``python -m coupontools_async`` is the ``coupontools`` command."""

import sys

from .cli import main

sys.exit(main())

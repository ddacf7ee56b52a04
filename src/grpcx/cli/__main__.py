"""``python -m grpcx.cli``: the ``grpcx`` command."""

import sys

from grpcx.cli import main

sys.exit(main())

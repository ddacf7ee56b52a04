"""``python -m grpcx.codegen``: the protoc plugin, as ``protoc-gen-grpcx`` runs it."""

import sys

from grpcx.codegen.plugin import main

sys.exit(main())

"""Code generation from ``.proto`` files: the ``protoc-gen-grpcx`` plugin.

:func:`grpcx.codegen.plugin.generate` turns a ``CodeGeneratorRequest`` into the
``<file>_grpcx.py`` modules; ``python -m grpcx.codegen`` (or the ``protoc-gen-grpcx``
script) runs it as a protoc plugin; ``grpcx generate`` runs protoc and it in one step.
"""

from grpcx.codegen.plugin import generate

__all__ = ["generate"]

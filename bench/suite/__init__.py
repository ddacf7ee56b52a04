"""The side-by-side bench suite: grpcx against grpcio, grpclib and grpc-go.

Run ``python -m bench.suite.run`` (see bench/README.md, "Side-by-side suite").
"""

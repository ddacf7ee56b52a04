"""grpcx's copies of the gRPC interop test protos (package ``grpc.testing``) and their messages."""

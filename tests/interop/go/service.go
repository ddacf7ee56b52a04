package main

// grpc.testing.TestService, described by hand: the method names and shapes of
// src/grpcx/interop/protos/test.proto.

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/stats"
)

const (
	testService          = "grpc.testing.TestService"
	emptyCallPath        = "/grpc.testing.TestService/EmptyCall"
	unaryCallPath        = "/grpc.testing.TestService/UnaryCall"
	streamingOutputPath  = "/grpc.testing.TestService/StreamingOutputCall"
	streamingInputPath   = "/grpc.testing.TestService/StreamingInputCall"
	fullDuplexPath       = "/grpc.testing.TestService/FullDuplexCall"
	unimplementedPath    = "/grpc.testing.TestService/UnimplementedCall"
	unimplementedService = "/grpc.testing.UnimplementedService/UnimplementedCall"
)

var (
	streamingOutputDesc = &grpc.StreamDesc{StreamName: "StreamingOutputCall", ServerStreams: true}
	streamingInputDesc  = &grpc.StreamDesc{StreamName: "StreamingInputCall", ClientStreams: true}
	fullDuplexDesc      = &grpc.StreamDesc{
		StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true,
	}
)

// methodHandler is the type of grpc.MethodDesc.Handler (unnamed in grpc-go 1.33).
type methodHandler = func(interface{}, context.Context, func(interface{}) error, grpc.UnaryServerInterceptor) (interface{}, error)

// unaryHandler adapts a typed unary method to grpc-go's method handler.
func unaryHandler(newRequest func() interface{}, call func(context.Context, interface{}) (interface{}, error)) methodHandler {
	return func(_ interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
		request := newRequest()
		if err := dec(request); err != nil {
			return nil, err
		}
		return call(ctx, request)
	}
}

func testServiceDesc(s *testServer) *grpc.ServiceDesc {
	return &grpc.ServiceDesc{
		ServiceName: testService,
		HandlerType: (*interface{})(nil),
		Methods: []grpc.MethodDesc{
			{MethodName: "EmptyCall", Handler: unaryHandler(
				func() interface{} { return new(Empty) },
				func(ctx context.Context, _ interface{}) (interface{}, error) { return s.emptyCall(ctx) },
			)},
			{MethodName: "UnaryCall", Handler: unaryHandler(
				func() interface{} { return new(SimpleRequest) },
				func(ctx context.Context, r interface{}) (interface{}, error) {
					return s.unaryCall(ctx, r.(*SimpleRequest))
				},
			)},
			{MethodName: "CacheableUnaryCall", Handler: unaryHandler(
				func() interface{} { return new(SimpleRequest) },
				func(ctx context.Context, r interface{}) (interface{}, error) {
					return s.unaryCall(ctx, r.(*SimpleRequest))
				},
			)},
		},
		Streams: []grpc.StreamDesc{
			{StreamName: "StreamingOutputCall", ServerStreams: true, Handler: s.streamingOutputCall},
			{StreamName: "StreamingInputCall", ClientStreams: true, Handler: s.streamingInputCall},
			{StreamName: "FullDuplexCall", ServerStreams: true, ClientStreams: true, Handler: s.fullDuplexCall},
			{StreamName: "HalfDuplexCall", ServerStreams: true, ClientStreams: true, Handler: s.halfDuplexCall},
		},
		Metadata: "grpcx/interop/protos/test.proto",
	}
}

// ---------------------------------------------------------------- compressed flags

// received records, for one call, whether each message received was compressed.
type received struct{ flags []bool }

func (r *received) last() (compressed, ok bool) {
	if len(r.flags) == 0 {
		return false, false
	}
	return r.flags[len(r.flags)-1], true
}

type receivedKey struct{}

func withReceived(ctx context.Context, r *received) context.Context {
	return context.WithValue(ctx, receivedKey{}, r)
}

func receivedOf(ctx context.Context) *received {
	r, _ := ctx.Value(receivedKey{}).(*received)
	return r
}

// compressionRecorder is a stats.Handler that notes each received message's compressed
// flag in the call's *received (put in the context by the client's case, or by TagRPC
// on the server). A message was compressed exactly when its length on the wire (less
// the 5-byte prefix) is not its decompressed length; see main.go for why that holds here.
type compressionRecorder struct{ server bool }

func (h compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	if h.server {
		return withReceived(ctx, &received{})
	}
	return ctx
}

func (h compressionRecorder) HandleRPC(ctx context.Context, s stats.RPCStats) {
	if in, ok := s.(*stats.InPayload); ok {
		if r := receivedOf(ctx); r != nil {
			r.flags = append(r.flags, in.WireLength-5 != in.Length)
		}
	}
}

func (compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}

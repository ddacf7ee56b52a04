package main

// The server features of doc/interop-test-descriptions.md on grpc-go: every TestService
// method but UnimplementedCall, metadata echo, echo status, compressed requests checked
// (expect_compressed), interval_us. Response compression: see main.go.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
)

type testServer struct{}

// echoMetadata sends back the echo keys of the request's metadata: the initial one in
// the response headers, the trailing one in the trailers (also with an error status).
func echoMetadata(ctx context.Context, setHeader, setTrailer func(metadata.MD) error) error {
	in, _ := metadata.FromIncomingContext(ctx)
	if values := in.Get(echoInitialKey); len(values) > 0 {
		if err := setHeader(metadata.Pairs(echoInitialKey, values[0])); err != nil {
			return err
		}
	}
	if values := in.Get(echoTrailingKey); len(values) > 0 {
		if err := setTrailer(metadata.Pairs(echoTrailingKey, values[0])); err != nil {
			return err
		}
	}
	return nil
}

// checkCompressed fails the call when the last message received was not compressed as
// its expect_compressed says.
func checkCompressed(ctx context.Context, expect *BoolValue) error {
	if expect == nil {
		return nil
	}
	r := receivedOf(ctx)
	compressed, ok := false, false
	if r != nil {
		compressed, ok = r.last()
	}
	if !ok {
		return status.Error(codes.Internal, "the compressed flag of the request is unknown")
	}
	if expect.GetValue() && !compressed {
		return status.Error(codes.InvalidArgument, "expected a compressed request")
	}
	if !expect.GetValue() && compressed {
		return status.Error(codes.InvalidArgument, "expected an uncompressed request")
	}
	return nil
}

func echoStatus(s *EchoStatus) error {
	if s != nil && s.GetCode() != 0 {
		return status.Error(codes.Code(s.GetCode()), s.GetMessage())
	}
	return nil
}

func newPayload(kind PayloadType, size int32) (*Payload, error) {
	if kind != PayloadType_COMPRESSABLE {
		return nil, status.Errorf(codes.InvalidArgument, "unsupported response_type %v", kind)
	}
	if size < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "negative response size %d", size)
	}
	return &Payload{Type: kind, Body: make([]byte, size)}, nil
}

func (*testServer) emptyCall(ctx context.Context) (*Empty, error) {
	return new(Empty), nil
}

func (*testServer) unaryCall(ctx context.Context, in *SimpleRequest) (*SimpleResponse, error) {
	setHeader := func(md metadata.MD) error { return grpc.SetHeader(ctx, md) }
	setTrailer := func(md metadata.MD) error { return grpc.SetTrailer(ctx, md) }
	if err := echoMetadata(ctx, setHeader, setTrailer); err != nil {
		return nil, err
	}
	if err := checkCompressed(ctx, in.GetExpectCompressed()); err != nil {
		return nil, err
	}
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return nil, err
	}
	payload, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &SimpleResponse{Payload: payload}, nil
}

func sendResponses(stream grpc.ServerStream, in *StreamingOutputCallRequest) error {
	if err := echoStatus(in.GetResponseStatus()); err != nil {
		return err
	}
	for _, params := range in.GetResponseParameters() {
		if us := params.GetIntervalUs(); us > 0 {
			time.Sleep(time.Duration(us) * time.Microsecond)
		}
		payload, err := newPayload(in.GetResponseType(), params.GetSize())
		if err != nil {
			return err
		}
		if err := stream.SendMsg(&StreamingOutputCallResponse{Payload: payload}); err != nil {
			return err
		}
	}
	return nil
}

func streamEcho(stream grpc.ServerStream) error {
	return echoMetadata(stream.Context(), stream.SetHeader, func(md metadata.MD) error {
		stream.SetTrailer(md)
		return nil
	})
}

func (*testServer) streamingOutputCall(_ interface{}, stream grpc.ServerStream) error {
	in := new(StreamingOutputCallRequest)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	if err := streamEcho(stream); err != nil {
		return err
	}
	return sendResponses(stream, in)
}

func (*testServer) streamingInputCall(_ interface{}, stream grpc.ServerStream) error {
	if err := streamEcho(stream); err != nil {
		return err
	}
	var total int32
	for {
		in := new(StreamingInputCallRequest)
		err := stream.RecvMsg(in)
		if err == io.EOF {
			return stream.SendMsg(&StreamingInputCallResponse{AggregatedPayloadSize: total})
		}
		if err != nil {
			return err
		}
		if err := checkCompressed(stream.Context(), in.GetExpectCompressed()); err != nil {
			return err
		}
		total += int32(len(in.GetPayload().GetBody()))
	}
}

func (*testServer) fullDuplexCall(_ interface{}, stream grpc.ServerStream) error {
	if err := streamEcho(stream); err != nil {
		return err
	}
	for {
		in := new(StreamingOutputCallRequest)
		err := stream.RecvMsg(in)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sendResponses(stream, in); err != nil {
			return err
		}
	}
}

func (*testServer) halfDuplexCall(_ interface{}, stream grpc.ServerStream) error {
	if err := streamEcho(stream); err != nil {
		return err
	}
	var requests []*StreamingOutputCallRequest
	for {
		in := new(StreamingOutputCallRequest)
		err := stream.RecvMsg(in)
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		requests = append(requests, in)
	}
	for _, in := range requests {
		if err := sendResponses(stream, in); err != nil {
			return err
		}
	}
	return nil
}

func serverCredentials(mutual bool, certs certFiles) (credentials.TransportCredentials, error) {
	cert, err := tls.LoadX509KeyPair(certs.path("server1.pem"), certs.path("server1.key"))
	if err != nil {
		return nil, err
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if mutual {
		ca, err := ioutil.ReadFile(certs.path("ca.pem"))
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return nil, fmt.Errorf("no certificate in %s", certs.path("ca.pem"))
		}
		config.ClientCAs = pool
		config.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(config), nil
}

func serve(host string, port int, useTLS, mutual bool, certs certFiles) int {
	options := []grpc.ServerOption{grpc.StatsHandler(compressionRecorder{server: true})}
	if useTLS {
		creds, err := serverCredentials(mutual, certs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "TLS:", err)
			return 1
		}
		options = append(options, grpc.Creds(creds))
	}
	listener, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		fmt.Fprintln(os.Stderr, "listen:", err)
		return 1
	}
	server := grpc.NewServer(options...)
	server.RegisterService(testServiceDesc(&testServer{}), &testServer{})
	fmt.Printf("grpc-go interop server listening on port %d\n", listener.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-signals
		server.Stop()
	}()
	if err := server.Serve(listener); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

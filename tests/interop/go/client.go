package main

// The client test cases of doc/interop-test-descriptions.md on grpc-go, in the order
// and with the names of grpcx.interop.cases.TEST_CASES.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const (
	largeRequestSize       = 271828
	largeResponseSize      = 314159
	sleepingServerTimeout  = time.Millisecond
	concurrentLargeUnaries = 1000
	echoInitialValue       = "test_initial_metadata_value"
	echoTrailingValue      = "\xab\xab\xab"
	echoStatusCode         = 2
	statusMessage          = "test status message"
	specialStatusMessage   = "\t\ntest with whitespace\r\nand Unicode BMP \u263a and non-BMP \U0001f608\t\n"
	caseTimeout            = 60 * time.Second
)

var (
	clientStreamingSizes = []int{27182, 8, 1828, 45904}
	serverStreamingSizes = []int32{31415, 9, 2653, 58979}
	pingPongSizes        = [][2]int32{{31415, 27182}, {9, 8}, {2653, 1828}, {58979, 45904}}
)

type caseFunc func(ctx context.Context, conn *grpc.ClientConn) error

var testCases = []struct {
	name string
	run  caseFunc
}{
	{"empty_unary", emptyUnary},
	{"large_unary", largeUnary},
	{"client_compressed_unary", clientCompressedUnary},
	{"server_compressed_unary", serverCompressedUnary},
	{"client_streaming", clientStreaming},
	{"client_compressed_streaming", clientCompressedStreaming},
	{"server_streaming", serverStreaming},
	{"server_compressed_streaming", serverCompressedStreaming},
	{"ping_pong", pingPong},
	{"empty_stream", emptyStream},
	{"timeout_on_sleeping_server", timeoutOnSleepingServer},
	{"cancel_after_begin", cancelAfterBegin},
	{"cancel_after_first_response", cancelAfterFirstResponse},
	{"custom_metadata", customMetadata},
	{"status_code_and_message", statusCodeAndMessage},
	{"special_status_message", specialStatus},
	{"unimplemented_method", unimplementedMethod},
	{"unimplemented_service", unimplementedServiceCase},
	{"concurrent_large_unary", concurrentLargeUnary},
}

func failf(format string, args ...interface{}) error { return fmt.Errorf(format, args...) }

func boolValue(v bool) *BoolValue { return &BoolValue{Value: v} }

func payload(size int) *Payload { return &Payload{Body: make([]byte, size)} }

func largeRequest(expectCompressed *BoolValue) *SimpleRequest {
	return &SimpleRequest{
		ResponseSize:     largeResponseSize,
		Payload:          payload(largeRequestSize),
		ExpectCompressed: expectCompressed,
	}
}

func pingPongRequest(responseSize, requestSize int32) *StreamingOutputCallRequest {
	return &StreamingOutputCallRequest{
		ResponseParameters: []*ResponseParameters{{Size: responseSize}},
		Payload:            payload(int(requestSize)),
	}
}

func checkSize(what string, p *Payload, want int) error {
	if got := len(p.GetBody()); got != want {
		return failf("%s: payload of %d bytes, expected %d", what, got, want)
	}
	return nil
}

func checkCode(what string, err error, want codes.Code) error {
	if got := status.Code(err); got != want {
		return failf("%s: expected %v, got %v (%v)", what, want, got, err)
	}
	return nil
}

func unary(ctx context.Context, conn *grpc.ClientConn, in *SimpleRequest, opts ...grpc.CallOption) (*SimpleResponse, error) {
	out := new(SimpleResponse)
	err := conn.Invoke(ctx, unaryCallPath, in, out, opts...)
	return out, err
}

func emptyUnary(ctx context.Context, conn *grpc.ClientConn) error {
	out := new(Empty)
	if err := conn.Invoke(ctx, emptyCallPath, new(Empty), out); err != nil {
		return err
	}
	return nil
}

func largeUnary(ctx context.Context, conn *grpc.ClientConn) error {
	out, err := unary(ctx, conn, largeRequest(nil))
	if err != nil {
		return err
	}
	return checkSize("response", out.GetPayload(), largeResponseSize)
}

func clientCompressedUnary(ctx context.Context, conn *grpc.ClientConn) error {
	_, err := unary(ctx, conn, largeRequest(boolValue(true)))
	if err := checkCode("uncompressed probe", err, codes.InvalidArgument); err != nil {
		return err
	}
	for _, compressed := range []bool{true, false} {
		var opts []grpc.CallOption
		if compressed {
			opts = append(opts, grpc.UseCompressor("gzip"))
		}
		out, err := unary(ctx, conn, largeRequest(boolValue(compressed)), opts...)
		if err != nil {
			return fmt.Errorf("compressed=%v: %w", compressed, err)
		}
		if err := checkSize("response", out.GetPayload(), largeResponseSize); err != nil {
			return err
		}
	}
	return nil
}

func serverCompressedUnary(ctx context.Context, conn *grpc.ClientConn) error {
	for _, compressed := range []bool{true, false} {
		in := largeRequest(nil)
		in.ResponseCompressed = boolValue(compressed)
		r := &received{}
		out, err := unary(withReceived(ctx, r), conn, in)
		if err != nil {
			return err
		}
		if err := checkSize("response", out.GetPayload(), largeResponseSize); err != nil {
			return err
		}
		if flag, ok := r.last(); !ok || flag != compressed {
			return failf("response_compressed=%v: the response's compressed flag is %v", compressed, flag)
		}
	}
	return nil
}

func clientStreaming(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := conn.NewStream(ctx, streamingInputDesc, streamingInputPath)
	if err != nil {
		return err
	}
	for _, size := range clientStreamingSizes {
		if err := stream.SendMsg(&StreamingInputCallRequest{Payload: payload(size)}); err != nil {
			return err
		}
	}
	return closeAndCheckTotal(stream, 74922)
}

func closeAndCheckTotal(stream grpc.ClientStream, want int32) error {
	if err := stream.CloseSend(); err != nil {
		return err
	}
	out := new(StreamingInputCallResponse)
	if err := stream.RecvMsg(out); err != nil {
		return err
	}
	if got := out.GetAggregatedPayloadSize(); got != want {
		return failf("aggregated_payload_size %d, expected %d", got, want)
	}
	return nil
}

func clientCompressedStreaming(ctx context.Context, conn *grpc.ClientConn) error {
	probeCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	probe, err := conn.NewStream(probeCtx, streamingInputDesc, streamingInputPath)
	if err != nil {
		return err
	}
	first := &StreamingInputCallRequest{Payload: payload(27182), ExpectCompressed: boolValue(true)}
	_ = probe.SendMsg(first) // the server may end the call first; RecvMsg tells
	_ = probe.CloseSend()
	err = probe.RecvMsg(new(StreamingInputCallResponse))
	if err := checkCode("uncompressed probe", err, codes.InvalidArgument); err != nil {
		return err
	}
	stream, err := conn.NewStream(ctx, streamingInputDesc, streamingInputPath, grpc.UseCompressor("gzip"))
	if err != nil {
		return err
	}
	if err := stream.SendMsg(first); err != nil {
		return err
	}
	// grpc-go cannot send one message of a compressed call uncompressed: the second
	// goes out compressed, with expect_compressed unset (see main.go).
	if err := stream.SendMsg(&StreamingInputCallRequest{Payload: payload(45904)}); err != nil {
		return err
	}
	return closeAndCheckTotal(stream, 73086)
}

func readAll(stream grpc.ClientStream) ([]*StreamingOutputCallResponse, error) {
	var responses []*StreamingOutputCallResponse
	for {
		out := new(StreamingOutputCallResponse)
		err := stream.RecvMsg(out)
		if err == io.EOF {
			return responses, nil
		}
		if err != nil {
			return responses, err
		}
		responses = append(responses, out)
	}
}

func outputCall(ctx context.Context, conn *grpc.ClientConn, in *StreamingOutputCallRequest) ([]*StreamingOutputCallResponse, error) {
	stream, err := conn.NewStream(ctx, streamingOutputDesc, streamingOutputPath)
	if err != nil {
		return nil, err
	}
	if err := stream.SendMsg(in); err != nil {
		return nil, err
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	return readAll(stream)
}

func checkSizes(responses []*StreamingOutputCallResponse, want []int32) error {
	got := make([]int32, len(responses))
	for i, r := range responses {
		got[i] = int32(len(r.GetPayload().GetBody()))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		return failf("response payload sizes %v, expected %v", got, want)
	}
	return nil
}

func serverStreaming(ctx context.Context, conn *grpc.ClientConn) error {
	in := new(StreamingOutputCallRequest)
	for _, size := range serverStreamingSizes {
		in.ResponseParameters = append(in.ResponseParameters, &ResponseParameters{Size: size})
	}
	responses, err := outputCall(ctx, conn, in)
	if err != nil {
		return err
	}
	return checkSizes(responses, serverStreamingSizes)
}

func serverCompressedStreaming(ctx context.Context, conn *grpc.ClientConn) error {
	in := &StreamingOutputCallRequest{ResponseParameters: []*ResponseParameters{
		{Size: 31415, Compressed: boolValue(true)},
		{Size: 92653, Compressed: boolValue(false)},
	}}
	r := &received{}
	responses, err := outputCall(withReceived(ctx, r), conn, in)
	if err != nil {
		return err
	}
	if err := checkSizes(responses, []int32{31415, 92653}); err != nil {
		return err
	}
	if fmt.Sprint(r.flags) != fmt.Sprint([]bool{true, false}) {
		return failf("compressed flags %v, expected [true false]", r.flags)
	}
	return nil
}

func pingPong(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return err
	}
	for _, sizes := range pingPongSizes {
		if err := stream.SendMsg(pingPongRequest(sizes[0], sizes[1])); err != nil {
			return err
		}
		out := new(StreamingOutputCallResponse)
		if err := stream.RecvMsg(out); err != nil {
			return err
		}
		if err := checkSize("response", out.GetPayload(), int(sizes[0])); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	if err := stream.RecvMsg(new(StreamingOutputCallResponse)); err != io.EOF {
		return failf("after the last response: expected the end of the stream, got %v", err)
	}
	return nil
}

func emptyStream(ctx context.Context, conn *grpc.ClientConn) error {
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	responses, err := readAll(stream)
	if err != nil {
		return err
	}
	if len(responses) != 0 {
		return failf("%d responses, expected none", len(responses))
	}
	return nil
}

func timeoutOnSleepingServer(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, sleepingServerTimeout)
	defer cancel()
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return checkCode("NewStream", err, codes.DeadlineExceeded)
	}
	// The deadline may pass before the request goes out: SendMsg then fails with io.EOF
	// and RecvMsg reports the status.
	_ = stream.SendMsg(&StreamingOutputCallRequest{Payload: payload(27182)})
	err = stream.RecvMsg(new(StreamingOutputCallResponse))
	return checkCode("status", err, codes.DeadlineExceeded)
}

func cancelAfterBegin(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	stream, err := conn.NewStream(ctx, streamingInputDesc, streamingInputPath)
	if err != nil {
		cancel()
		return err
	}
	cancel()
	err = stream.RecvMsg(new(StreamingInputCallResponse))
	return checkCode("status", err, codes.Canceled)
}

func cancelAfterFirstResponse(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(pingPongRequest(31415, 27182)); err != nil {
		return err
	}
	out := new(StreamingOutputCallResponse)
	if err := stream.RecvMsg(out); err != nil {
		return err
	}
	if err := checkSize("response", out.GetPayload(), 31415); err != nil {
		return err
	}
	cancel()
	err = stream.RecvMsg(new(StreamingOutputCallResponse))
	return checkCode("status after cancel", err, codes.Canceled)
}

func checkEcho(what string, header, trailer metadata.MD) error {
	if got := header.Get(echoInitialKey); len(got) != 1 || got[0] != echoInitialValue {
		return failf("%s: initial metadata %s is %q", what, echoInitialKey, got)
	}
	got := trailer.Get(echoTrailingKey)
	if len(got) != 1 || !bytes.Equal([]byte(got[0]), []byte(echoTrailingValue)) {
		return failf("%s: trailing metadata %s is %q", what, echoTrailingKey, got)
	}
	return nil
}

func customMetadata(ctx context.Context, conn *grpc.ClientConn) error {
	ctx = metadata.AppendToOutgoingContext(ctx,
		echoInitialKey, echoInitialValue, echoTrailingKey, echoTrailingValue)
	var header, trailer metadata.MD
	out, err := unary(ctx, conn, largeRequest(nil), grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		return err
	}
	if err := checkSize("UnaryCall", out.GetPayload(), largeResponseSize); err != nil {
		return err
	}
	if err := checkEcho("UnaryCall", header, trailer); err != nil {
		return err
	}
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return err
	}
	if err := stream.SendMsg(pingPongRequest(largeResponseSize, largeRequestSize)); err != nil {
		return err
	}
	if err := stream.CloseSend(); err != nil {
		return err
	}
	responses, err := readAll(stream)
	if err != nil {
		return err
	}
	if err := checkSizes(responses, []int32{largeResponseSize}); err != nil {
		return err
	}
	header, err = stream.Header()
	if err != nil {
		return err
	}
	return checkEcho("FullDuplexCall", header, stream.Trailer())
}

func checkStatus(what string, err error, message string) error {
	st, _ := status.FromError(err)
	if st.Code() != codes.Unknown {
		return failf("%s: expected Unknown, got %v (%v)", what, st.Code(), err)
	}
	if st.Message() != message {
		return failf("%s: message %q, expected %q", what, st.Message(), message)
	}
	return nil
}

func echoStatusCall(ctx context.Context, conn *grpc.ClientConn, message string, duplex bool) error {
	echo := &EchoStatus{Code: echoStatusCode, Message: message}
	_, err := unary(ctx, conn, &SimpleRequest{ResponseStatus: echo})
	if err := checkStatus("UnaryCall", err, message); err != nil {
		return err
	}
	if !duplex {
		return nil
	}
	stream, err := conn.NewStream(ctx, fullDuplexDesc, fullDuplexPath)
	if err != nil {
		return err
	}
	_ = stream.SendMsg(&StreamingOutputCallRequest{ResponseStatus: echo})
	_ = stream.CloseSend()
	err = stream.RecvMsg(new(StreamingOutputCallResponse))
	return checkStatus("FullDuplexCall", err, message)
}

func statusCodeAndMessage(ctx context.Context, conn *grpc.ClientConn) error {
	return echoStatusCall(ctx, conn, statusMessage, true)
}

func specialStatus(ctx context.Context, conn *grpc.ClientConn) error {
	return echoStatusCall(ctx, conn, specialStatusMessage, false)
}

func unimplementedMethod(ctx context.Context, conn *grpc.ClientConn) error {
	err := conn.Invoke(ctx, unimplementedPath, new(Empty), new(Empty))
	return checkCode("status", err, codes.Unimplemented)
}

func unimplementedServiceCase(ctx context.Context, conn *grpc.ClientConn) error {
	err := conn.Invoke(ctx, unimplementedService, new(Empty), new(Empty))
	return checkCode("status", err, codes.Unimplemented)
}

func concurrentLargeUnary(ctx context.Context, conn *grpc.ClientConn) error {
	errs := make(chan error, concurrentLargeUnaries)
	var wg sync.WaitGroup
	for i := 0; i < concurrentLargeUnaries; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- largeUnary(ctx, conn)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func clientCredentials(mutual bool, override string, certs certFiles) (credentials.TransportCredentials, error) {
	ca, err := ioutil.ReadFile(certs.path("ca.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("no certificate in %s", certs.path("ca.pem"))
	}
	config := &tls.Config{RootCAs: pool, ServerName: override, MinVersion: tls.VersionTLS12}
	if mutual {
		cert, err := tls.LoadX509KeyPair(certs.path("client.pem"), certs.path("client.key"))
		if err != nil {
			return nil, err
		}
		config.Certificates = []tls.Certificate{cert}
	}
	return credentials.NewTLS(config), nil
}

func runClient(host string, port int, useTLS, mutual bool, override, testCase string, certs certFiles) int {
	options := []grpc.DialOption{grpc.WithStatsHandler(compressionRecorder{})}
	if useTLS {
		if override == "" {
			override = serverHostOverride
		}
		creds, err := clientCredentials(mutual, override, certs)
		if err != nil {
			fmt.Fprintln(os.Stderr, "TLS:", err)
			return 1
		}
		options = append(options, grpc.WithTransportCredentials(creds))
	} else {
		options = append(options, grpc.WithInsecure())
	}
	conn, err := grpc.Dial(net.JoinHostPort(host, strconv.Itoa(port)), options...)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dial:", err)
		return 1
	}
	defer conn.Close()
	failures, ran := 0, false
	for _, c := range testCases {
		if testCase != "all" && testCase != c.name {
			continue
		}
		ran = true
		ctx, cancel := context.WithTimeout(context.Background(), caseTimeout)
		err := c.run(ctx, conn)
		cancel()
		if err != nil {
			var reason string
			if st, ok := status.FromError(err); ok && !errors.Is(err, context.DeadlineExceeded) && st.Code() != codes.Unknown {
				reason = fmt.Sprintf("RPC failed: %v: %s", st.Code(), st.Message())
			} else {
				reason = err.Error()
			}
			fmt.Printf("FAIL %s: %s\n", c.name, reason)
			failures++
		} else {
			fmt.Printf("PASS %s\n", c.name)
		}
		os.Stdout.Sync()
	}
	if !ran {
		fmt.Printf("FAIL %s: unknown test case\n", testCase)
		return 1
	}
	if failures > 0 {
		return 1
	}
	return 0
}

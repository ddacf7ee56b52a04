// grpc-go reference for the grpcx side-by-side bench suite (bench/suite).
//
// One binary, two roles:
//
//	benchgo server [-addr 127.0.0.1:0]     serves bench.Bench, prints "PORT <n>"
//	benchgo client -addr H:P -mode MODE    runs one client scenario, prints one JSON line
//
// The service is written by hand (a grpc.ServiceDesc, no protoc) over the
// google.protobuf wrapper messages; the codec is google.golang.org/protobuf's
// proto.Marshal/Unmarshal, which is what current grpc-go uses as its default codec.
// Built offline in GOPATH mode from Debian's golang-google-grpc-dev.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// ---------------------------------------------------------------- codec

type protoCodec struct{}

func (protoCodec) Marshal(v interface{}) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, fmt.Errorf("not a proto message: %T", v)
	}
	return proto.Marshal(m)
}

func (protoCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(proto.Message)
	if !ok {
		return fmt.Errorf("not a proto message: %T", v)
	}
	return proto.Unmarshal(data, m)
}

func (protoCodec) Name() string { return "proto" }

func init() { encoding.RegisterCodec(protoCodec{}) }

// ---------------------------------------------------------------- server

const streamPayloadSize = 100

var unaryCount int64

var streamItem = &wrapperspb.BytesValue{Value: bytes.Repeat([]byte{'x'}, streamPayloadSize)}

func unaryHandler(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(wrapperspb.BytesValue)
	if err := dec(in); err != nil {
		return nil, err
	}
	atomic.AddInt64(&unaryCount, 1)
	return in, nil
}

func statsHandler(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
	in := new(wrapperspb.Int64Value)
	if err := dec(in); err != nil {
		return nil, err
	}
	return &wrapperspb.Int64Value{Value: atomic.LoadInt64(&unaryCount)}, nil
}

func serverStreamHandler(srv interface{}, stream grpc.ServerStream) error {
	in := new(wrapperspb.Int64Value)
	if err := stream.RecvMsg(in); err != nil {
		return err
	}
	for i := int64(0); i < in.Value; i++ {
		if err := stream.SendMsg(streamItem); err != nil {
			return err
		}
	}
	return nil
}

func clientStreamHandler(srv interface{}, stream grpc.ServerStream) error {
	var n int64
	for {
		in := new(wrapperspb.BytesValue)
		err := stream.RecvMsg(in)
		if err == io.EOF {
			return stream.SendMsg(&wrapperspb.Int64Value{Value: n})
		}
		if err != nil {
			return err
		}
		n++
	}
}

func pingPongHandler(srv interface{}, stream grpc.ServerStream) error {
	for {
		in := new(wrapperspb.BytesValue)
		err := stream.RecvMsg(in)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.SendMsg(in); err != nil {
			return err
		}
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "bench.Bench",
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{
		{MethodName: "Unary", Handler: unaryHandler},
		{MethodName: "Stats", Handler: statsHandler},
	},
	Streams: []grpc.StreamDesc{
		{StreamName: "ServerStream", Handler: serverStreamHandler, ServerStreams: true},
		{StreamName: "ClientStream", Handler: clientStreamHandler, ClientStreams: true},
		{StreamName: "PingPong", Handler: pingPongHandler, ServerStreams: true, ClientStreams: true},
	},
	Metadata: "bench.proto",
}

func runServer(args []string) error {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	noBDP := fs.Bool("no-bdp", false, "static 64 KiB windows: no BDP estimation, so no BDP PINGs")
	fs.Parse(args)
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if *noBDP {
		opts = append(opts, grpc.InitialWindowSize(65535), grpc.InitialConnWindowSize(65535))
	}
	s := grpc.NewServer(opts...)
	s.RegisterService(&serviceDesc, struct{}{})
	fmt.Printf("PORT %d\n", lis.Addr().(*net.TCPAddr).Port)
	os.Stdout.Sync()
	return s.Serve(lis)
}

// ---------------------------------------------------------------- client

var (
	descServer = &grpc.StreamDesc{ServerStreams: true}
	descClient = &grpc.StreamDesc{ClientStreams: true}
	descBidi   = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}
)

func payload(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

func unaryCall(ctx context.Context, cc *grpc.ClientConn, data []byte) error {
	out := new(wrapperspb.BytesValue)
	if err := cc.Invoke(ctx, "/bench.Bench/Unary", &wrapperspb.BytesValue{Value: data}, out); err != nil {
		return err
	}
	if !bytes.Equal(out.Value, data) {
		return fmt.Errorf("unary echo mismatch: sent %d bytes, got %d", len(data), len(out.Value))
	}
	return nil
}

func serverStream(ctx context.Context, cc *grpc.ClientConn, count int64) (int64, error) {
	st, err := cc.NewStream(ctx, descServer, "/bench.Bench/ServerStream")
	if err != nil {
		return 0, err
	}
	if err := st.SendMsg(&wrapperspb.Int64Value{Value: count}); err != nil {
		return 0, err
	}
	if err := st.CloseSend(); err != nil {
		return 0, err
	}
	var n int64
	for {
		m := new(wrapperspb.BytesValue)
		err := st.RecvMsg(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
		if len(m.Value) != streamPayloadSize {
			return n, fmt.Errorf("server stream message %d has %d bytes", n, len(m.Value))
		}
		n++
	}
	if n != count {
		return n, fmt.Errorf("server stream: asked %d messages, got %d", count, n)
	}
	return n, nil
}

func clientStream(ctx context.Context, cc *grpc.ClientConn, count int64) error {
	st, err := cc.NewStream(ctx, descClient, "/bench.Bench/ClientStream")
	if err != nil {
		return err
	}
	m := &wrapperspb.BytesValue{Value: payload(streamPayloadSize, 1)}
	for i := int64(0); i < count; i++ {
		if err := st.SendMsg(m); err != nil {
			break // the real error comes from RecvMsg
		}
	}
	if err := st.CloseSend(); err != nil {
		return err
	}
	out := new(wrapperspb.Int64Value)
	if err := st.RecvMsg(out); err != nil {
		return err
	}
	if out.Value != count {
		return fmt.Errorf("client stream: sent %d messages, server counted %d", count, out.Value)
	}
	return nil
}

func stats(ctx context.Context, cc *grpc.ClientConn) (int64, error) {
	out := new(wrapperspb.Int64Value)
	err := cc.Invoke(ctx, "/bench.Bench/Stats", &wrapperspb.Int64Value{}, out)
	return out.Value, err
}

type result map[string]interface{}

func emit(r result) {
	b, _ := json.Marshal(r)
	fmt.Println(string(b))
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i]) / 1e6
}

func runClient(args []string) error {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	addr := fs.String("addr", "", "server host:port")
	mode := fs.String("mode", "verify", "verify|unary|sstream|cstream|pingpong|big|latency|stats")
	duration := fs.Duration("duration", 5*time.Second, "measurement time")
	warmup := fs.Duration("warmup", time.Second, "warm-up time")
	conc := fs.Int("conc", 64, "calls in flight (unary, big)")
	count := fs.Int64("count", 200000, "messages (sstream, cstream)")
	size := fs.Int("size", 100, "payload bytes (unary, pingpong, big, latency)")
	rate := fs.Float64("rate", 1000, "offered calls/s (latency)")
	noBDP := fs.Bool("no-bdp", false, "static 64 KiB windows: no BDP estimation, so no BDP PINGs")
	fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *warmup+*duration+120*time.Second)
	defer cancel()
	opts := []grpc.DialOption{grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20), grpc.MaxCallSendMsgSize(64<<20))}
	if *noBDP {
		opts = append(opts, grpc.WithInitialWindowSize(65535), grpc.WithInitialConnWindowSize(65535))
	}
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	cc, err := grpc.DialContext(dctx, *addr, opts...)
	if err != nil {
		return err
	}
	defer cc.Close()

	switch *mode {
	case "stats":
		n, err := stats(ctx, cc)
		if err != nil {
			return err
		}
		emit(result{"unary_count": n})
	case "verify":
		return verify(ctx, cc)
	case "unary", "big":
		return closedLoop(ctx, cc, *conc, *size, *warmup, *duration)
	case "sstream":
		if _, err := serverStream(ctx, cc, *count/10); err != nil { // warm-up
			return err
		}
		t0 := time.Now()
		n, err := serverStream(ctx, cc, *count)
		if err != nil {
			return err
		}
		el := time.Since(t0).Seconds()
		emit(result{"messages": n, "seconds": el, "rate": float64(n) / el})
	case "cstream":
		if err := clientStream(ctx, cc, *count/10); err != nil {
			return err
		}
		t0 := time.Now()
		if err := clientStream(ctx, cc, *count); err != nil {
			return err
		}
		el := time.Since(t0).Seconds()
		emit(result{"messages": *count, "seconds": el, "rate": float64(*count) / el})
	case "pingpong":
		return pingPong(ctx, cc, *size, *warmup, *duration)
	case "latency":
		return latency(ctx, cc, *size, *rate, *warmup, *duration)
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	return nil
}

func verify(ctx context.Context, cc *grpc.ClientConn) error {
	before, err := stats(ctx, cc)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	sizes := []int{0, 1, 100, 100, 1000, 65536, 1 << 20}
	for i, n := range sizes {
		if err := unaryCall(ctx, cc, payload(n, byte(i))); err != nil {
			return fmt.Errorf("unary %d bytes: %w", n, err)
		}
	}
	after, err := stats(ctx, cc)
	if err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	if after-before != int64(len(sizes)) {
		return fmt.Errorf("server counted %d unary calls, expected %d", after-before, len(sizes))
	}
	for _, n := range []int64{0, 1, 1000} {
		if _, err := serverStream(ctx, cc, n); err != nil {
			return fmt.Errorf("server stream %d: %w", n, err)
		}
		if err := clientStream(ctx, cc, n); err != nil {
			return fmt.Errorf("client stream %d: %w", n, err)
		}
	}
	st, err := cc.NewStream(ctx, descBidi, "/bench.Bench/PingPong")
	if err != nil {
		return err
	}
	for i := 0; i < 100; i++ {
		data := payload(100+i, byte(i))
		if err := st.SendMsg(&wrapperspb.BytesValue{Value: data}); err != nil {
			return err
		}
		m := new(wrapperspb.BytesValue)
		if err := st.RecvMsg(m); err != nil {
			return err
		}
		if !bytes.Equal(m.Value, data) {
			return errors.New("ping-pong echo mismatch")
		}
	}
	st.CloseSend()
	if err := st.RecvMsg(new(wrapperspb.BytesValue)); err != io.EOF {
		return fmt.Errorf("ping-pong end: %v", err)
	}
	// A call to a method that does not exist must fail: proves status is checked.
	err = cc.Invoke(ctx, "/bench.Bench/Nope", &wrapperspb.BytesValue{}, new(wrapperspb.BytesValue))
	// (grpclib answers without content-type, which grpc-go reports as UNKNOWN.)
	if status.Code(err) == codes.OK {
		return errors.New("a call to an unknown method succeeded")
	}
	emit(result{"ok": true, "unary_count": after})
	return nil
}

func closedLoop(ctx context.Context, cc *grpc.ClientConn, conc, size int, warmup, duration time.Duration) error {
	var calls, errs int64
	var firstErr atomic.Value
	var measuring int32
	start := time.Now()
	stopAt := start.Add(warmup + duration)
	var wg sync.WaitGroup
	var mStart time.Time
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			data := payload(size, byte(w))
			for time.Now().Before(stopAt) {
				err := unaryCall(ctx, cc, data)
				if err != nil {
					atomic.AddInt64(&errs, 1)
					firstErr.Store(err.Error())
					return
				}
				if atomic.LoadInt32(&measuring) == 1 {
					atomic.AddInt64(&calls, 1)
				}
			}
		}(w)
	}
	time.Sleep(warmup)
	mStart = time.Now()
	atomic.StoreInt32(&measuring, 1)
	time.Sleep(time.Until(stopAt))
	n := atomic.LoadInt64(&calls)
	el := time.Since(mStart).Seconds()
	wg.Wait()
	if errs > 0 {
		return fmt.Errorf("%d calls failed: %v", errs, firstErr.Load())
	}
	emit(result{"calls": n, "seconds": el, "rate": float64(n) / el, "bytes_per_call": size})
	return nil
}

func pingPong(ctx context.Context, cc *grpc.ClientConn, size int, warmup, duration time.Duration) error {
	st, err := cc.NewStream(ctx, descBidi, "/bench.Bench/PingPong")
	if err != nil {
		return err
	}
	data := payload(size, 3)
	req := &wrapperspb.BytesValue{Value: data}
	var n int64
	start := time.Now()
	var mStart time.Time
	measuring := false
	for {
		now := time.Now()
		if !measuring && now.Sub(start) >= warmup {
			measuring, mStart, n = true, now, 0
		}
		if measuring && now.Sub(mStart) >= duration {
			break
		}
		if err := st.SendMsg(req); err != nil {
			return err
		}
		m := new(wrapperspb.BytesValue)
		if err := st.RecvMsg(m); err != nil {
			return err
		}
		if !bytes.Equal(m.Value, data) {
			return errors.New("ping-pong echo mismatch")
		}
		n++
	}
	el := time.Since(mStart).Seconds()
	st.CloseSend()
	if err := st.RecvMsg(new(wrapperspb.BytesValue)); err != io.EOF {
		return fmt.Errorf("ping-pong end: %v", err)
	}
	emit(result{"round_trips": n, "seconds": el, "rate": float64(n) / el})
	return nil
}

// Open loop: calls start on a fixed schedule whatever the server does, and each
// latency counts from the scheduled start (no coordinated omission).
func latency(ctx context.Context, cc *grpc.ClientConn, size int, rate float64, warmup, duration time.Duration) error {
	data := payload(size, 5)
	interval := time.Duration(float64(time.Second) / rate)
	total := int((warmup + duration).Seconds() * rate)
	skip := int(warmup.Seconds() * rate)
	lat := make([]time.Duration, total)
	var errs int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < total; i++ {
		sched := start.Add(time.Duration(i) * interval)
		if d := time.Until(sched); d > 0 {
			time.Sleep(d)
		}
		wg.Add(1)
		go func(i int, sched time.Time) {
			defer wg.Done()
			if err := unaryCall(ctx, cc, data); err != nil {
				atomic.AddInt64(&errs, 1)
				firstErr.Store(err.Error())
				return
			}
			lat[i] = time.Since(sched)
		}(i, sched)
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	if errs > 0 {
		return fmt.Errorf("%d calls failed: %v", errs, firstErr.Load())
	}
	m := lat[skip:]
	sort.Slice(m, func(a, b int) bool { return m[a] < m[b] })
	emit(result{
		"calls": len(m), "offered_rate": rate, "achieved_rate": float64(total) / el,
		"p50_ms": percentile(m, 0.50), "p90_ms": percentile(m, 0.90),
		"p99_ms": percentile(m, 0.99), "p999_ms": percentile(m, 0.999),
		"max_ms": percentile(m, 1.0),
	})
	return nil
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchgo server|client [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "server":
		err = runServer(os.Args[2:])
	case "client":
		err = runClient(os.Args[2:])
	default:
		err = fmt.Errorf("unknown role %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchgo:", err)
		os.Exit(1)
	}
}

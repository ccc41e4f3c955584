"""A fake kubelet pod-resources server for tests: gRPC /v1.PodResourcesLister/List over HTTP/2
on a Unix socket, standard library only. It decodes the client's request headers (static-table
indexes and plain literals), answers with HPACK that uses static indexes, the dynamic table and
Huffman strings (to exercise Odin's decoder), the protobuf ListPodResourcesResponse built by hand
(with fields Odin must skip), split over padded DATA frames, and grpc-status trailers.

    server = FakePodResources(path, pods)      # pods: see encode_response
    server.start(); ...; server.stop()
    server.requests                            # [(headers dict, body bytes)] seen so far
python3 fake_podres.py SOCKET  serves two example pods until interrupted."""
import os
import socket
import struct
import sys
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, SETTINGS, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 0, 1, 4, 6, 7, 8, 9
END_STREAM, END_HEADERS, PADDED = 0x1, 0x4, 0x8

# RFC 7541 Appendix B: (code, bit length) of bytes 0..255 and EOS.
HUFFMAN = [
    (0x1ff8, 13), (0x7fffd8, 23), (0xfffffe2, 28), (0xfffffe3, 28), (0xfffffe4, 28), (0xfffffe5, 28),
    (0xfffffe6, 28), (0xfffffe7, 28), (0xfffffe8, 28), (0xffffea, 24), (0x3ffffffc, 30), (0xfffffe9, 28),
    (0xfffffea, 28), (0x3ffffffd, 30), (0xfffffeb, 28), (0xfffffec, 28), (0xfffffed, 28), (0xfffffee, 28),
    (0xfffffef, 28), (0xffffff0, 28), (0xffffff1, 28), (0xffffff2, 28), (0x3ffffffe, 30), (0xffffff3, 28),
    (0xffffff4, 28), (0xffffff5, 28), (0xffffff6, 28), (0xffffff7, 28), (0xffffff8, 28), (0xffffff9, 28),
    (0xffffffa, 28), (0xffffffb, 28), (0x14, 6), (0x3f8, 10), (0x3f9, 10), (0xffa, 12),
    (0x1ff9, 13), (0x15, 6), (0xf8, 8), (0x7fa, 11), (0x3fa, 10), (0x3fb, 10),
    (0xf9, 8), (0x7fb, 11), (0xfa, 8), (0x16, 6), (0x17, 6), (0x18, 6),
    (0x0, 5), (0x1, 5), (0x2, 5), (0x19, 6), (0x1a, 6), (0x1b, 6),
    (0x1c, 6), (0x1d, 6), (0x1e, 6), (0x1f, 6), (0x5c, 7), (0xfb, 8),
    (0x7ffc, 15), (0x20, 6), (0xffb, 12), (0x3fc, 10), (0x1ffa, 13), (0x21, 6),
    (0x5d, 7), (0x5e, 7), (0x5f, 7), (0x60, 7), (0x61, 7), (0x62, 7),
    (0x63, 7), (0x64, 7), (0x65, 7), (0x66, 7), (0x67, 7), (0x68, 7),
    (0x69, 7), (0x6a, 7), (0x6b, 7), (0x6c, 7), (0x6d, 7), (0x6e, 7),
    (0x6f, 7), (0x70, 7), (0x71, 7), (0x72, 7), (0xfc, 8), (0x73, 7),
    (0xfd, 8), (0x1ffb, 13), (0x7fff0, 19), (0x1ffc, 13), (0x3ffc, 14), (0x22, 6),
    (0x7ffd, 15), (0x3, 5), (0x23, 6), (0x4, 5), (0x24, 6), (0x5, 5),
    (0x25, 6), (0x26, 6), (0x27, 6), (0x6, 5), (0x74, 7), (0x75, 7),
    (0x28, 6), (0x29, 6), (0x2a, 6), (0x7, 5), (0x2b, 6), (0x76, 7),
    (0x2c, 6), (0x8, 5), (0x9, 5), (0x2d, 6), (0x77, 7), (0x78, 7),
    (0x79, 7), (0x7a, 7), (0x7b, 7), (0x7ffe, 15), (0x7fc, 11), (0x3ffd, 14),
    (0x1ffd, 13), (0xffffffc, 28), (0xfffe6, 20), (0x3fffd2, 22), (0xfffe7, 20), (0xfffe8, 20),
    (0x3fffd3, 22), (0x3fffd4, 22), (0x3fffd5, 22), (0x7fffd9, 23), (0x3fffd6, 22), (0x7fffda, 23),
    (0x7fffdb, 23), (0x7fffdc, 23), (0x7fffdd, 23), (0x7fffde, 23), (0xffffeb, 24), (0x7fffdf, 23),
    (0xffffec, 24), (0xffffed, 24), (0x3fffd7, 22), (0x7fffe0, 23), (0xffffee, 24), (0x7fffe1, 23),
    (0x7fffe2, 23), (0x7fffe3, 23), (0x7fffe4, 23), (0x1fffdc, 21), (0x3fffd8, 22), (0x7fffe5, 23),
    (0x3fffd9, 22), (0x7fffe6, 23), (0x7fffe7, 23), (0xffffef, 24), (0x3fffda, 22), (0x1fffdd, 21),
    (0xfffe9, 20), (0x3fffdb, 22), (0x3fffdc, 22), (0x7fffe8, 23), (0x7fffe9, 23), (0x1fffde, 21),
    (0x7fffea, 23), (0x3fffdd, 22), (0x3fffde, 22), (0xfffff0, 24), (0x1fffdf, 21), (0x3fffdf, 22),
    (0x7fffeb, 23), (0x7fffec, 23), (0x1fffe0, 21), (0x1fffe1, 21), (0x3fffe0, 22), (0x1fffe2, 21),
    (0x7fffed, 23), (0x3fffe1, 22), (0x7fffee, 23), (0x7fffef, 23), (0xfffea, 20), (0x3fffe2, 22),
    (0x3fffe3, 22), (0x3fffe4, 22), (0x7ffff0, 23), (0x3fffe5, 22), (0x3fffe6, 22), (0x7ffff1, 23),
    (0x3ffffe0, 26), (0x3ffffe1, 26), (0xfffeb, 20), (0x7fff1, 19), (0x3fffe7, 22), (0x7ffff2, 23),
    (0x3fffe8, 22), (0x1ffffec, 25), (0x3ffffe2, 26), (0x3ffffe3, 26), (0x3ffffe4, 26), (0x7ffffde, 27),
    (0x7ffffdf, 27), (0x3ffffe5, 26), (0xfffff1, 24), (0x1ffffed, 25), (0x7fff2, 19), (0x1fffe3, 21),
    (0x3ffffe6, 26), (0x7ffffe0, 27), (0x7ffffe1, 27), (0x3ffffe7, 26), (0x7ffffe2, 27), (0xfffff2, 24),
    (0x1fffe4, 21), (0x1fffe5, 21), (0x3ffffe8, 26), (0x3ffffe9, 26), (0xffffffd, 28), (0x7ffffe3, 27),
    (0x7ffffe4, 27), (0x7ffffe5, 27), (0xfffec, 20), (0xfffff3, 24), (0xfffed, 20), (0x1fffe6, 21),
    (0x3fffe9, 22), (0x1fffe7, 21), (0x1fffe8, 21), (0x7ffff3, 23), (0x3fffea, 22), (0x3fffeb, 22),
    (0x1ffffee, 25), (0x1ffffef, 25), (0xfffff4, 24), (0xfffff5, 24), (0x3ffffea, 26), (0x7ffff4, 23),
    (0x3ffffeb, 26), (0x7ffffe6, 27), (0x3ffffec, 26), (0x3ffffed, 26), (0x7ffffe7, 27), (0x7ffffe8, 27),
    (0x7ffffe9, 27), (0x7ffffea, 27), (0x7ffffeb, 27), (0xffffffe, 28), (0x7ffffec, 27), (0x7ffffed, 27),
    (0x7ffffee, 27), (0x7ffffef, 27), (0x7fffff0, 27), (0x3ffffee, 26), (0x3fffffff, 30),
]

STATIC = [None, (":authority", ""), (":method", "GET"), (":method", "POST"), (":path", "/"),
          (":path", "/index.html"), (":scheme", "http"), (":scheme", "https"),
          (":status", "200")] + [("x-unused", "")] * 22 + [("content-type", "")]


# ---- protobuf ---------------------------------------------------------------------------------

def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, v):
    return varint(num << 3) + varint(v)


def encode_response(pods):
    """pods: [{"name", "namespace", "containers": [{"name", "devices": [{"resource", "ids"}]}]}].
    Field order is shuffled (name after containers) and unknown fields are added, as a real
    kubelet may send: cpu_ids (packed), topology, memory, a fixed64 and a fixed32 field."""
    out = b""
    for pod in pods:
        body = b""
        for c in pod.get("containers", []):
            cb = b""
            for d in c.get("devices", []):
                db = b""
                for i in d.get("ids", []):
                    db += field_bytes(2, i)
                db += field_bytes(3, field_bytes(1, field_varint(1, 0)))  # topology {nodes{ID 0}}
                db += field_bytes(1, d["resource"])
                cb += field_bytes(2, db)
            cb += field_bytes(3, varint(2) + varint(3))  # cpu_ids, packed
            cb += field_bytes(1, c["name"])
            body += field_bytes(3, cb)
        body += field_bytes(4, varint(7))
        body += varint(9 << 3 | 1) + struct.pack("<Q", 1)  # unknown fixed64
        body += varint(10 << 3 | 5) + struct.pack("<I", 2)  # unknown fixed32
        body += field_bytes(2, pod["namespace"]) + field_bytes(1, pod["name"])
        out += field_bytes(1, body)
    return out


# ---- HPACK ------------------------------------------------------------------------------------

def huffman(data):
    bits, n = 0, 0
    for b in data.encode() if isinstance(data, str) else data:
        code, length = HUFFMAN[b]
        bits = bits << length | code
        n += length
    pad = (8 - n % 8) % 8
    bits = bits << pad | ((1 << pad) - 1)
    n += pad
    return bits.to_bytes(n // 8, "big") if n else b""


def hp_int(first, prefix, v):
    m = (1 << prefix) - 1
    if v < m:
        return bytes([first | v])
    out = bytearray([first | m])
    v -= m
    while v >= 0x80:
        out.append(0x80 | (v & 0x7F))
        v >>= 7
    out.append(v)
    return bytes(out)


def hp_str(s, huff=False):
    raw = s.encode()
    if huff:
        h = huffman(raw)
        return hp_int(0x80, 7, len(h)) + h
    return hp_int(0, 7, len(raw)) + raw


def hp_read_int(b, i, prefix):
    m = (1 << prefix) - 1
    v = b[i] & m
    i += 1
    if v < m:
        return v, i
    shift = 0
    while True:
        c = b[i]
        i += 1
        v += (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def hp_read_str(b, i):
    if b[i] & 0x80:
        raise ValueError("Huffman in a request: Odin's client sends plain literals")
    n, i = hp_read_int(b, i, 7)
    return b[i:i + n].decode(), i + n


def decode_request_headers(block):
    """The forms a client may use towards us, minus Huffman and the dynamic table."""
    out, i = {}, 0
    while i < len(block):
        b = block[i]
        if b & 0x80:
            idx, i = hp_read_int(block, i, 7)
            name, value = STATIC[idx]
        else:
            prefix = 6 if b & 0xC0 == 0x40 else 4
            idx, i = hp_read_int(block, i, prefix)
            if idx:
                name = STATIC[idx][0]
            else:
                name, i = hp_read_str(block, i)
            value, i = hp_read_str(block, i)
        out[name] = value
    return out


# ---- HTTP/2 -----------------------------------------------------------------------------------

def frame(ftype, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", stream) + payload


def response_bytes(pods, grpc_status=0, grpc_message=""):
    """Everything the server writes after the client's request: SETTINGS ack, a PING, response
    HEADERS, DATA and trailers (or a trailers-only answer when grpc_status != 0)."""
    out = frame(SETTINGS, 0x1, 0, b"")
    out += frame(PING, 0, 0, b"odinping")
    if grpc_status:
        block = (b"\x88" + b"\x5f" + hp_str("application/grpc", True) +
                 b"\x40" + hp_str("grpc-status", True) + hp_str(str(grpc_status), True) +
                 b"\x00" + hp_str("grpc-message") + hp_str(grpc_message))
        return out + frame(HEADERS, END_HEADERS | END_STREAM, 1, block)
    # :status 200 (static 8); content-type with incremental indexing (name static 31, Huffman
    # value); a header split into a CONTINUATION frame
    block = b"\x88" + b"\x5f" + hp_str("application/grpc", True)
    block += b"\x40" + hp_str("grpc-accept-encoding", True) + hp_str("identity,gzip", True)
    out += frame(HEADERS, 0, 1, block[:5]) + frame(CONTINUATION, END_HEADERS, 1, block[5:])
    msg = encode_response(pods)
    grpc = b"\x00" + struct.pack(">I", len(msg)) + msg
    half = len(grpc) // 2
    out += frame(DATA, PADDED, 1, bytes([3]) + grpc[:half] + b"\x00" * 3)
    out += frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 1000))
    out += frame(DATA, 0, 1, grpc[half:])
    # trailers: grpc-status added to the dynamic table (index 62), then index 64, the
    # content-type entry the response headers added, now two places older
    trailers = b"\x40" + hp_str("grpc-status", True) + hp_str("0", True) + b"\xc0"
    return out + frame(HEADERS, END_HEADERS | END_STREAM, 1, trailers)


def read_exact(conn, n):
    buf = b""
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return buf


class FakePodResources:
    def __init__(self, path, pods, grpc_status=0, grpc_message=""):
        self.path, self.pods = path, pods
        self.grpc_status, self.grpc_message = grpc_status, grpc_message
        self.requests = []
        self.sock = None
        self.thread = None

    def start(self):
        if os.path.exists(self.path):
            os.unlink(self.path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            try:
                self._handle(conn)
            except (EOFError, OSError, ValueError) as e:
                print("fake_podres: %s" % e, file=sys.stderr)
            finally:
                conn.close()

    def _handle(self, conn):
        conn.settimeout(10)
        if read_exact(conn, len(PREFACE)) != PREFACE:
            raise ValueError("bad client preface")
        conn.sendall(frame(SETTINGS, 0, 0, struct.pack(">HI", 3, 100)))
        headers, body, ended = None, b"", False
        while not ended:
            h = read_exact(conn, 9)
            length = int.from_bytes(h[:3], "big")
            ftype, flags, stream = h[3], h[4], int.from_bytes(h[5:], "big") & 0x7FFFFFFF
            payload = read_exact(conn, length)
            if ftype == HEADERS and stream == 1:
                headers = decode_request_headers(payload)
                ended = bool(flags & END_STREAM)
            elif ftype == DATA and stream == 1:
                body += payload
                ended = bool(flags & END_STREAM)
        self.requests.append((headers, body))
        if headers.get(":path") != "/v1.PodResourcesLister/List":
            conn.sendall(frame(HEADERS, END_HEADERS | END_STREAM, 1,
                               b"\x88" + b"\x00" + hp_str("grpc-status") + hp_str("12")))
            return
        conn.sendall(response_bytes(self.pods, self.grpc_status, self.grpc_message))
        # let the client finish reading before the socket closes
        try:
            conn.recv(4096)
        except OSError:
            pass


EXAMPLE_PODS = [
    {"name": "trainer-0", "namespace": "ml", "containers": [
        {"name": "pytorch", "devices": [
            {"resource": "nvidia.com/gpu", "ids": ["GPU-604ac76c-d9cf-fef3-62e9-d92044ab6e52::1"]},
            {"resource": "example.com/nic", "ids": ["eth9"]}]},
        {"name": "sidecar", "devices": []}]},
    {"name": "notebook", "namespace": "team-a", "containers": [
        {"name": "jupyter", "devices": [
            {"resource": "nvidia.com/mig-1g.10gb",
             "ids": ["MIG-aaaaaaaa-bbbb-cccc-dddd-000000000001"]}]}]},
]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    server = FakePodResources(sys.argv[1], EXAMPLE_PODS).start()
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

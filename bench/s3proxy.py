#!/usr/bin/env python3
"""An HTTP/1.1 proxy in front of an S3 or Azure Blob endpoint, for benchmarks and tests.

It forwards every request unchanged (signatures stay valid: the Host header is the client's
and is passed through as is), and can
  * add a delay before each request is forwarded (--delay-ms): a cloud-like round trip, where
    the kernel has no netem;
  * answer some requests itself with 503 SlowDown (--fail-every N: every Nth request;
    --fail-after N: every request after the Nth; --fail-method M: only requests of method M,
    counted among themselves), to test retries and server errors; --fail-status 429 answers
    429 instead, --retry-after S adds a Retry-After header, --azure makes the error Azure's
    (ServerBusy, with x-ms-error-code);
  * reset a connection after forwarding a request (--reset-every N, counted with the failures'
    requests): the server does the work, its answer never reaches the client, and the client
    sees the connection reset, as when a network drops mid-request; --reset-once resets the
    first of each distinct request (method, target and body) and lets its retries through;
  * answer GETs of some objects itself with 403 InvalidObjectState, as S3 does for an object
    in an archive storage class that is not restored (--archived GLOB: the request's path,
    /bucket/key, matched with fnmatch; may be given more than once);
  * count the requests, by method, into --stats FILE (JSON, rewritten once a second and at
    exit).

Requests are read one at a time per connection (no pipelining, as curl and Go's client send
them); request bodies need a Content-Length (a chunked request makes the connection a plain
pipe from then on). Responses are relayed as a byte stream.

usage: s3proxy.py --listen PORT --target HOST:PORT [--delay-ms MS] [--fail-every N]
                  [--fail-after N] [--fail-method M] [--fail-status 503|429]
                  [--retry-after S] [--azure] [--reset-every N] [--reset-once] [--archived GLOB]
                  [--stats FILE] [--pid FILE]
"""
import argparse
import asyncio
import fnmatch
import hashlib
import json
import os
import signal

STATS = {"requests": 0, "by_method": {}, "injected_503": 0, "archived_403": 0, "resets": 0}
MATCHING = [0]  # requests the failure rules apply to
SEEN = set()  # --reset-once: the requests already reset, by a hash of method, target and body
SLOWDOWN = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
            b"<Message>Please reduce your request rate.</Message></Error>")
SERVER_BUSY = (b"<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>ServerBusy</Code>"
               b"<Message>The server is busy.</Message></Error>")
ARCHIVED = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidObjectState</Code>"
            b"<Message>The operation is not valid for the object's storage class</Message></Error>")


def write_stats(path):
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(STATS, f)
        os.replace(tmp, path)


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


async def handle(args, creader, cwriter):
    host, port = args.target.rsplit(":", 1)
    try:
        sreader, swriter = await asyncio.open_connection(host, int(port))
    except OSError:
        cwriter.close()
        return
    back = asyncio.ensure_future(pipe(sreader, cwriter))
    try:
        while True:
            try:
                head = await creader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                break
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0].decode("latin-1")
            target = lines[0].split(b" ")[1].decode("latin-1") if b" " in lines[0] else ""
            path = target.split("?", 1)[0]
            length = 0
            chunked = False
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value.strip() or 0)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            body = await creader.readexactly(length) if length else b""
            STATS["requests"] += 1
            STATS["by_method"][method] = STATS["by_method"].get(method, 0) + 1
            fail = False
            reset = False
            if not args.fail_method or method == args.fail_method:
                MATCHING[0] += 1
                n = MATCHING[0]
                fail = bool((args.fail_every and n % args.fail_every == 0) or
                            (args.fail_after is not None and n > args.fail_after))
                reset = bool(args.reset_every and n % args.reset_every == 0)
                if args.reset_once:
                    key = hashlib.sha256(method.encode() + b" " + target.encode() + b"\n" +
                                         body).hexdigest()
                    reset = key not in SEEN
                    SEEN.add(key)
            if args.delay_ms:
                await asyncio.sleep(args.delay_ms / 1000.0)
            if method == "GET" and any(fnmatch.fnmatchcase(path, g) for g in args.archived):
                STATS["archived_403"] += 1
                cwriter.write(b"HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\n"
                              b"Content-Length: " + str(len(ARCHIVED)).encode() + b"\r\n\r\n" +
                              ARCHIVED)
                await cwriter.drain()
                continue
            if fail:
                STATS["injected_503"] += 1
                doc = SERVER_BUSY if args.azure else SLOWDOWN
                reason = b"Too Many Requests" if args.fail_status == 429 else b"Slow Down"
                extra = b""
                if args.azure:
                    extra += b"x-ms-error-code: ServerBusy\r\n"
                if args.retry_after is not None:
                    extra += b"Retry-After: " + str(args.retry_after).encode() + b"\r\n"
                cwriter.write(b"HTTP/1.1 " + str(args.fail_status).encode() + b" " + reason +
                              b"\r\nContent-Type: application/xml\r\n" + extra +
                              b"Content-Length: " + str(len(doc)).encode() + b"\r\n\r\n" + doc)
                await cwriter.drain()
                continue
            if reset:
                # The server does the work; its answer is dropped and the client's connection
                # reset. Requests on a connection are sequential: nothing else is in flight.
                STATS["resets"] += 1
                back.cancel()
                swriter.write(head + body)
                await swriter.drain()
                try:
                    await asyncio.wait_for(sreader.read(1), 30)
                except (asyncio.TimeoutError, ConnectionError):
                    pass
                cwriter.transport.abort()
                break
            swriter.write(head + body)
            await swriter.drain()
            if chunked:
                await pipe(creader, swriter)
                break
    except ConnectionError:
        pass
    finally:
        swriter.close()
        try:
            await back
        except asyncio.CancelledError:
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", type=int, required=True)
    p.add_argument("--target", required=True)
    p.add_argument("--delay-ms", type=float, default=0)
    p.add_argument("--fail-every", type=int, default=0)
    p.add_argument("--fail-after", type=int, default=None)
    p.add_argument("--fail-method")
    p.add_argument("--fail-status", type=int, default=503, choices=(503, 429))
    p.add_argument("--retry-after", type=int, default=None)
    p.add_argument("--azure", action="store_true")
    p.add_argument("--reset-every", type=int, default=0)
    p.add_argument("--reset-once", action="store_true")
    p.add_argument("--archived", action="append", default=[])
    p.add_argument("--stats")
    p.add_argument("--pid")
    args = p.parse_args()
    server = await asyncio.start_server(lambda r, w: handle(args, r, w), "127.0.0.1", args.listen,
                                        limit=1 << 20, backlog=1024)
    if args.pid:
        with open(args.pid, "w") as f:
            f.write(str(os.getpid()))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def stats_loop():
        while not stop.is_set():
            write_stats(args.stats)
            await asyncio.sleep(1)

    ticker = asyncio.ensure_future(stats_loop())
    await stop.wait()
    server.close()
    ticker.cancel()
    write_stats(args.stats)


if __name__ == "__main__":
    asyncio.run(main())

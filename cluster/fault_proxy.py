#!/usr/bin/env python3
"""fault-proxy: a TCP proxy that adds latency and loss, for the cluster's origin-to-PostgreSQL
path (this kernel has no netem). Listens on LISTEN, forwards to TARGET; the mode is re-read from
CONTROL every 200 ms, one line:

    pass                 forward as is
    delay MS [JITTER]    hold every chunk MS (+ up to JITTER) milliseconds, in order
    loss PERCENT         a chunk is "lost" with that probability: as TCP sees a lost segment, it
                         arrives after a retransmission timeout (200-400 ms), in order
    cut                  accept nothing and forward nothing (open connections stall)

What it did is written to CONTROL.seen every 200 ms, one line "delayed N lost M" (chunks since it
started), so that a test can see its fault reach real traffic.

    fault_proxy.py LISTEN_HOST:PORT TARGET_HOST:PORT CONTROL
"""
import asyncio
import os
import random
import sys
import time

mode = ["pass"]
seen = {"delayed": 0, "lost": 0}


async def watch(control):
    while True:
        try:
            with open(control) as f:
                mode[0] = f.read().strip() or "pass"
        except OSError:
            mode[0] = "pass"
        try:
            with open(control + ".seen.tmp", "w") as f:
                f.write(f"delayed {seen['delayed']} lost {seen['lost']}\n")
            os.replace(control + ".seen.tmp", control + ".seen")
        except OSError:
            pass
        await asyncio.sleep(0.2)


def hold_ms():
    parts = mode[0].split()
    if parts[0] == "delay":
        base = float(parts[1]) if len(parts) > 1 else 0
        jitter = float(parts[2]) if len(parts) > 2 else 0
        seen["delayed"] += 1
        return base + random.random() * jitter
    if parts[0] == "loss":
        p = float(parts[1]) / 100 if len(parts) > 1 else 0
        if random.random() < p:
            seen["lost"] += 1
            return 200 + random.random() * 200
    return 0


async def pump(reader, writer):
    # Chunks keep their order: each waits until the one before it has been written.
    release = time.monotonic()
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            while mode[0] == "cut":
                await asyncio.sleep(0.1)
            release = max(release, time.monotonic() + hold_ms() / 1000)
            wait = release - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.close()
        except OSError:
            pass


async def handle(target, client_reader, client_writer):
    if mode[0] == "cut":
        client_writer.close()
        return
    host, port = target
    try:
        server_reader, server_writer = await asyncio.open_connection(host, port)
    except OSError:
        client_writer.close()
        return
    await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))


async def main():
    listen, target, control = sys.argv[1], sys.argv[2], sys.argv[3]
    lh, lp = listen.rsplit(":", 1)
    th, tp = target.rsplit(":", 1)
    asyncio.get_running_loop().create_task(watch(control))
    server = await asyncio.start_server(lambda r, w: handle((th, int(tp)), r, w), lh, int(lp))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

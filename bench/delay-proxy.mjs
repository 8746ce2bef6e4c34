// A TCP relay that adds latency and nothing else, for benches that show what
// a real link does to a transfer the lab only ever makes over loopback. It
// runs in a worker thread of the bench (so the bench's own event loop does not
// pace it) and delivers each chunk oneWayMs after it arrived, in order, in
// each direction. No bandwidth cap, no loss, and nothing outside the bench
// process changes (no tc/netem on lo, which would be machine-wide).
import { createServer, connect } from "node:net";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

if (!isMainThread && workerData?.delayProxy) relayWithDelay(workerData.delayProxy);

/** Starts a relay from listen:(a free port) to target; resolves with that port, the worker and stop(). */
export async function startDelayProxy({ listen, target, oneWayMs }) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { delayProxy: { listen, target, oneWayMs } } });
  const port = await new Promise((res, rej) => worker.once("message", res).once("error", rej));
  const stop = async () => {
    worker.postMessage("stop");
    await new Promise((res) => worker.once("exit", res));
  };
  return { port, worker, stop };
}

function relayWithDelay({ listen, target, oneWayMs }) {
  const relay = (from, to) => {
    const queue = [];
    let timer;
    const flush = () => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0].due <= now + 0.5) {
        const { chunk } = queue.shift();
        if (chunk) to.write(chunk);
        else to.end();
      }
      if (queue.length > 0) timer = setTimeout(flush, queue[0].due - now);
    };
    const push = (chunk) => {
      queue.push({ chunk, due: performance.now() + oneWayMs });
      timer ??= setTimeout(flush, oneWayMs);
    };
    from.on("data", (chunk) => push(chunk));
    from.on("end", () => push(undefined));
  };
  const server = createServer((client) => {
    const upstream = connect(target);
    // The relay itself adds no Nagle delay: it passes each chunk on as it leaves the queue.
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    for (const [a, b] of [[client, upstream], [upstream, client]]) {
      a.on("error", () => b.destroy());
      a.on("close", () => b.destroy());
    }
    relay(client, upstream);
    relay(upstream, client);
  });
  server.listen(0, listen, () => parentPort.postMessage(server.address().port));
  parentPort.on("message", () => server.close(() => process.exit(0)));
}

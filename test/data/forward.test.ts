// The local forwarder with real sockets on loopback: bytes go both ways
// through whatever stream the caller opens, a stream that cannot be opened
// closes the accepted connection, and close cuts everything.
import { type Server, type Socket, connect, createConnection, createServer } from "node:net";
import { once } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { forwardTcp } from "../../controller/connection/forward.js";

let echo: Server;
let echoPort: number;
const open = () => new Promise<Socket>((resolve, reject) => {
  const s = createConnection({ host: "127.0.0.1", port: echoPort });
  s.once("connect", () => resolve(s)).once("error", reject);
});

beforeAll(async () => {
  echo = createServer((s) => s.pipe(s));
  echo.listen({ host: "127.0.0.1", port: 0 });
  await once(echo, "listening");
  echoPort = (echo.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((r) => echo.close(() => r())));

function exchange(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    let got = "";
    s.on("data", (d) => {
      got += String(d);
      if (got.length >= text.length) s.end();
    });
    s.on("close", () => resolve(got));
    s.on("error", () => resolve(got));
    s.write(text);
  });
}

describe("forwardTcp", () => {
  it("pipes each connection through the opened stream, on 127.0.0.1 only", async () => {
    const f = await forwardTcp(open);
    try {
      expect(f.address).toBe(`127.0.0.1:${f.port}`);
      const big = "x".repeat(3 << 20);
      const [a, b] = await Promise.all([exchange(f.port, "hello"), exchange(f.port, big)]);
      expect(a).toBe("hello");
      expect(b.length).toBe(big.length);
    } finally {
      await f.close();
    }
  });

  it("a client that shuts down its side after sending still gets the answer (how four-letter words are asked)", async () => {
    const words = createServer({ allowHalfOpen: true }, (s) => {
      let got = "";
      s.on("data", (d) => (got += String(d)));
      s.on("end", () => s.end(`you said ${got}`));
    });
    words.listen({ host: "127.0.0.1", port: 0 });
    await once(words, "listening");
    const port = (words.address() as { port: number }).port;
    const f = await forwardTcp(() => new Promise<Socket>((resolve) => {
      const s = createConnection({ host: "127.0.0.1", port, allowHalfOpen: true });
      s.once("connect", () => resolve(s));
    }));
    try {
      const answer = await new Promise<string>((resolve) => {
        const s = connect({ host: "127.0.0.1", port: f.port, allowHalfOpen: true });
        let got = "";
        s.on("data", (d) => (got += String(d)));
        s.on("close", () => resolve(got));
        s.end("srvr");
      });
      expect(answer).toBe("you said srvr");
    } finally {
      await f.close();
      await new Promise<void>((r) => words.close(() => r()));
    }
  });

  it("closes the accepted connection when the far end cannot be opened, and says why", async () => {
    const errors: unknown[] = [];
    const f = await forwardTcp(() => Promise.reject(new Error("host unreachable")), { onError: (e) => errors.push(e) });
    try {
      expect(await exchange(f.port, "ping")).toBe("");
      expect(String(errors[0])).toMatch(/host unreachable/);
    } finally {
      await f.close();
    }
  });

  it("close cuts piped connections and stops listening", async () => {
    const f = await forwardTcp(open);
    const s = connect({ host: "127.0.0.1", port: f.port });
    await once(s, "connect");
    s.write("x");
    await once(s, "data");
    expect(f.active()).toBe(1);
    const closed = once(s, "close");
    await f.close();
    await closed;
    const refused = connect({ host: "127.0.0.1", port: f.port });
    const [err] = (await once(refused, "error")) as [NodeJS.ErrnoException];
    expect(err.code).toBe("ECONNREFUSED");
  });
});

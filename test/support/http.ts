/** Local HTTP listeners for tests: fake agents and proxies in front of the real ones. */
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface Listener {
  /** `127.0.0.1:<port>` */
  address: string;
  /** Closes the server and drops every open socket. */
  close(): Promise<void>;
}

/** A local HTTP server; `handle` decides per request. */
export async function listen(handle: http.RequestListener): Promise<Listener> {
  const server = http.createServer(handle);
  const sockets = new Set<Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** Sends a request (with the body already read) on to `target` (`host:port`) and pipes the answer back. */
export function forward(target: string, req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
  const [host, port] = target.split(':');
  const up = http.request({ host, port: Number(port), method: req.method, path: req.url, headers: req.headers, agent: false }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    answer.pipe(res);
  });
  up.on('error', () => res.destroy());
  up.end(body);
}

/** Reads a request's body, then calls `handle` with it. */
export function withBody(handle: (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer) => void): http.RequestListener {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  };
}

/** A proxy in front of `target` that counts the requests it passes on, by path, and the bytes of their bodies. */
export async function countingProxy(target: string): Promise<Listener & { requests: string[]; readonly bodyBytes: number }> {
  const requests: string[] = [];
  let bodyBytes = 0;
  const listener = await listen(
    withBody((req, res, body) => {
      requests.push(`${req.method} ${(req.url ?? '').split('?')[0]}`);
      bodyBytes += body.length;
      forward(target, req, res, body);
    }),
  );
  return {
    ...listener,
    requests,
    get bodyBytes() {
      return bodyBytes;
    },
  };
}

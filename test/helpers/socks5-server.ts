// A minimal SOCKS5 proxy for tests (RFC 1928: no authentication, CONNECT only; IPv4, domain name
// and IPv6 destinations). `resolve` maps a requested destination, such as an .onion name, to a
// real local address, so a test reaches ws://<onion>.onion the way a worker reaches it through Tor;
// an unmapped domain name is answered 0x04 (host unreachable), as Tor answers a name it cannot find.
import net, { type AddressInfo, type Socket } from 'node:net';

export interface Socks5Server {
  /** socks5h://127.0.0.1:PORT */
  url: string;
  port: number;
  /** Client connections accepted so far. */
  connections: number;
  /** Every CONNECT destination as asked, "host:port" ("[v6]:port" for IPv6). */
  requested: string[];
  stop(): Promise<void>;
}

export interface Socks5Options {
  resolve?: (host: string, port: number) => { host: string; port: number } | undefined;
}

const REPLY = { succeeded: 0x00, failure: 0x01, networkUnreachable: 0x03, hostUnreachable: 0x04, refused: 0x05, commandNotSupported: 0x07, addressNotSupported: 0x08 };

export async function startSocks5(options: Socks5Options = {}): Promise<Socks5Server> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  };
  const proxy: Socks5Server = {
    url: '',
    port: 0,
    connections: 0,
    requested: [],
    stop: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const server = net.createServer((client) => {
    proxy.connections++;
    track(client);
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'request' | 'done' = 'greeting';
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'greeting') {
        if (buffered.length < 2) return;
        const methods = buffered[1]!;
        if (buffered.length < 2 + methods) return;
        if (buffered[0] !== 0x05) return void client.destroy();
        const offered = buffered.subarray(2, 2 + methods);
        buffered = buffered.subarray(2 + methods);
        if (!offered.includes(0x00)) return void client.end(Buffer.from([0x05, 0xff]));
        client.write(Buffer.from([0x05, 0x00]));
        stage = 'request';
      }
      if (stage === 'request') {
        const request = parseRequest(buffered);
        if (request === 'incomplete') return;
        stage = 'done';
        client.off('data', onData);
        if (typeof request === 'number') return void client.end(reply(request));
        const rest = buffered.subarray(request.length);
        connect(client, request, rest);
      }
    };
    client.on('data', onData);
  });

  function connect(client: Socket, request: Request, rest: Buffer) {
    proxy.requested.push(request.display);
    const mapped = options.resolve?.(request.host, request.port);
    if (!mapped && request.type === 'domain') return void client.end(reply(REPLY.hostUnreachable));
    const target = mapped ?? { host: request.host, port: request.port };
    const upstream = net.connect(target.port, target.host);
    track(upstream);
    upstream.once('connect', () => {
      upstream.off('error', onConnectError);
      upstream.on('error', () => client.destroy());
      client.write(reply(REPLY.succeeded));
      if (rest.length > 0) upstream.write(rest);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    const onConnectError = (err: NodeJS.ErrnoException) => {
      const code = err.code === 'ECONNREFUSED' ? REPLY.refused
        : err.code === 'EHOSTUNREACH' ? REPLY.hostUnreachable
        : err.code === 'ENETUNREACH' ? REPLY.networkUnreachable
        : REPLY.failure;
      client.end(reply(code));
    };
    upstream.once('error', onConnectError);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  proxy.port = (server.address() as AddressInfo).port;
  proxy.url = `socks5h://127.0.0.1:${proxy.port}`;
  return proxy;
}

interface Request {
  type: 'ipv4' | 'domain' | 'ipv6';
  host: string;
  port: number;
  display: string;
  /** Bytes the request took. */
  length: number;
}

/** VER CMD RSV ATYP DST.ADDR DST.PORT; a number is the reply code to refuse it with. */
function parseRequest(buf: Buffer): Request | number | 'incomplete' {
  if (buf.length < 5) return 'incomplete';
  if (buf[0] !== 0x05) return REPLY.failure;
  const atyp = buf[3];
  const addressLength = atyp === 0x01 ? 4 : atyp === 0x04 ? 16 : atyp === 0x03 ? 1 + buf[4]! : -1;
  if (addressLength < 0) return REPLY.addressNotSupported;
  const length = 4 + addressLength + 2;
  if (buf.length < length) return 'incomplete';
  if (buf[1] !== 0x01) return REPLY.commandNotSupported;
  const port = buf.readUInt16BE(4 + addressLength);
  if (atyp === 0x01) {
    const host = [...buf.subarray(4, 8)].join('.');
    return { type: 'ipv4', host, port, display: `${host}:${port}`, length };
  }
  if (atyp === 0x04) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(4 + i).toString(16));
    const host = groups.join(':');
    return { type: 'ipv6', host, port, display: `[${host}]:${port}`, length };
  }
  const host = buf.subarray(5, 5 + buf[4]!).toString('utf8');
  return { type: 'domain', host, port, display: `${host}:${port}`, length };
}

/** VER REP RSV ATYP BND.ADDR BND.PORT, with a zero IPv4 bound address (clients ignore it for CONNECT). */
function reply(code: number): Buffer {
  return Buffer.from([0x05, code, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
}

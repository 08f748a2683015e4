// A tiny authoritative-looking DNS server on 127.0.0.1 (UDP, RFC 1035 by hand) answering from a
// table the test gives: A, AAAA, CNAME, NS and PTR with their TTLs. A known name without the
// asked type gets an empty answer (NODATA), an unknown one NXDOMAIN. A CNAME is followed inside
// the table and its target's records answered after it, as a recursive resolver would.
import { createSocket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export type DnsType = 'A' | 'AAAA' | 'CNAME' | 'NS' | 'PTR';
export interface DnsRecord {
  type: DnsType;
  value: string;
  /** Seconds; 300 unless given. */
  ttl?: number;
}
/** Owner name (any case, no trailing dot) to its records. */
export type DnsTable = Record<string, DnsRecord[]>;

export interface DnsServer {
  /** `127.0.0.1:<port>`, for Resolver.setServers. */
  address: string;
  /** Questions received, as `name TYPE`. */
  queries: string[];
  close(): Promise<void>;
}

const TYPE_CODES: Record<DnsType, number> = { A: 1, NS: 2, CNAME: 5, PTR: 12, AAAA: 28 };
const TYPE_NAMES = new Map(Object.entries(TYPE_CODES).map(([name, code]) => [code, name as DnsType]));

export async function startDnsServer(table: DnsTable): Promise<DnsServer> {
  const records = new Map(Object.entries(table).map(([name, rrs]) => [name.toLowerCase().replace(/\.$/, ''), rrs]));
  const queries: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, peer) => {
    const reply = answer(query, records, queries);
    if (reply) socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    address: `127.0.0.1:${(socket.address() as AddressInfo).port}`,
    queries,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

function answer(query: Buffer, records: Map<string, DnsRecord[]>, log: string[]): Buffer | undefined {
  if (query.length < 12 || query.readUInt16BE(4) !== 1) return undefined; // exactly one question
  // Question: length-prefixed labels ending in a zero byte, then QTYPE and QCLASS.
  const labels: string[] = [];
  let at = 12;
  while (at < query.length && query[at] !== 0) {
    const length = query[at]!;
    labels.push(query.toString('latin1', at + 1, at + 1 + length));
    at += 1 + length;
  }
  const questionEnd = at + 5;
  if (questionEnd > query.length) return undefined;
  const name = labels.join('.').toLowerCase();
  const qtype = query.readUInt16BE(at + 1);
  const type = TYPE_NAMES.get(qtype);
  log.push(`${name} ${type ?? qtype}`);

  const answers: Buffer[] = [];
  let rcode = 0;
  if (!records.has(name)) rcode = 3; // NXDOMAIN
  else {
    let owner = name;
    for (let hops = 0; hops < 8; hops++) {
      const own = records.get(owner) ?? [];
      const wanted = own.filter((r) => r.type === type);
      const alias = own.find((r) => r.type === 'CNAME');
      if (wanted.length || !alias) {
        for (const r of wanted) answers.push(resourceRecord(owner, r));
        break;
      }
      answers.push(resourceRecord(owner, alias));
      owner = alias.value.toLowerCase().replace(/\.$/, '');
    }
  }

  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // ID
  const rd = query[2]! & 0x01;
  header[2] = 0x80 | 0x04 | rd; // QR, AA, RD as asked
  header[3] = 0x80 | rcode; // RA
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, questionEnd), ...answers]);
}

function resourceRecord(owner: string, record: DnsRecord): Buffer {
  let data: Buffer;
  if (record.type === 'A') data = Buffer.from(record.value.split('.').map(Number));
  else if (record.type === 'AAAA') data = ipv6(record.value);
  else data = encodeName(record.value);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_CODES[record.type], 0);
  fixed.writeUInt16BE(1, 2); // class IN
  fixed.writeUInt32BE(record.ttl ?? 300, 4);
  fixed.writeUInt16BE(data.length, 8);
  return Buffer.concat([encodeName(owner), fixed, data]);
}

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l, 'latin1')])), Buffer.from([0])]);
}

function ipv6(ip: string): Buffer {
  const text = new URL(`http://[${ip}]`).hostname.slice(1, -1);
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** The PTR owner name of an address: `4.3.2.1.in-addr.arpa` or the ip6.arpa nibbles. */
export function reverseName(ip: string): string {
  if (ip.includes('.') && !ip.includes(':')) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  return `${[...ipv6(ip).toString('hex')].reverse().join('.')}.ip6.arpa`;
}

// A small MaxMind DB (format 2.0) writer, so tests build their own tiny GeoLite2-shaped City and
// ASN databases instead of needing MaxMind's (licensed, downloaded) files. It follows
// MaxMind-DB-spec.md: an IPv6 search tree with 24-bit records, IPv4 networks stored under ::/96
// and aliased from ::ffff:0:0/96 as MaxMind does, a 16-byte separator, the data section (no
// pointers: every record written once), then the metadata map after "\xab\xcd\xefMaxMind.com".
import { isIPv4, isIPv6 } from 'node:net';

/** A number written with an explicit MMDB type (plain numbers become uint32, int32 or double). */
export class Typed {
  constructor(
    readonly type: 'uint16' | 'uint32' | 'uint64' | 'int32' | 'double' | 'float',
    readonly value: number | bigint,
  ) {}
}

export type MmdbValue = string | number | boolean | Typed | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbNetwork {
  /** CIDR, IPv4 (`192.0.2.0/24`) or IPv6 (`2001:db8::/32`). */
  network: string;
  data: MmdbValue;
}

export interface MmdbOptions {
  /** e.g. `GeoLite2-City`, `GeoLite2-ASN`: readers check it. */
  databaseType: string;
  description?: string;
  languages?: string[];
}

const RECORD_SIZE = 24;

/** Later networks win where they overlap earlier ones; a more specific one splits its parent. */
export function writeMmdb(networks: MmdbNetwork[], options: MmdbOptions): Buffer {
  const root = new TreeNode();
  for (const { network, data } of networks) {
    const { bits, prefix } = networkBits(network);
    insert(root, bits, prefix, new Leaf(data));
  }
  // The IPv4-mapped range ::ffff:0:0/96 leads to the same subtree as ::/96 (the IPv4 space).
  const ipv4Root = descend(root, new Array<number>(96).fill(0));
  const mapped = [...new Array<number>(80).fill(0), ...new Array<number>(16).fill(1)];
  const parent = descend(root, mapped.slice(0, 95));
  parent.right = ipv4Root;

  // Number the nodes breadth-first (the root must be node 0), each shared node once.
  const order: TreeNode[] = [];
  const numbers = new Map<TreeNode, number>();
  const queue: TreeNode[] = [root];
  while (queue.length) {
    const node = queue.shift()!;
    if (numbers.has(node)) continue;
    numbers.set(node, order.length);
    order.push(node);
    for (const child of [node.left, node.right]) if (child instanceof TreeNode && !numbers.has(child)) queue.push(child);
  }
  const nodeCount = order.length;

  const chunks: Buffer[] = [];
  const offsets = new Map<Leaf, number>();
  let dataSize = 0;
  for (const node of order) {
    for (const child of [node.left, node.right]) {
      if (child instanceof Leaf && !offsets.has(child)) {
        const encoded = encode(child.data);
        offsets.set(child, dataSize);
        chunks.push(encoded);
        dataSize += encoded.length;
      }
    }
  }

  const tree = Buffer.alloc(nodeCount * ((RECORD_SIZE * 2) / 8));
  const record = (child: TreeNode | Leaf | undefined): number => {
    if (child === undefined) return nodeCount; // no data for this range
    if (child instanceof TreeNode) return numbers.get(child)!;
    return nodeCount + 16 + offsets.get(child)!;
  };
  order.forEach((node, i) => {
    const left = record(node.left);
    const right = record(node.right);
    if (left >= 2 ** RECORD_SIZE || right >= 2 ** RECORD_SIZE) throw new Error('database too large for 24-bit records');
    tree.writeUIntBE(left, i * 6, 3);
    tree.writeUIntBE(right, i * 6 + 3, 3);
  });

  const metadata = encode({
    node_count: new Typed('uint32', nodeCount),
    record_size: new Typed('uint16', RECORD_SIZE),
    ip_version: new Typed('uint16', 6),
    database_type: options.databaseType,
    languages: options.languages ?? ['en'],
    binary_format_major_version: new Typed('uint16', 2),
    binary_format_minor_version: new Typed('uint16', 0),
    build_epoch: new Typed('uint64', BigInt(Math.floor(Date.now() / 1000))),
    description: { en: options.description ?? `${options.databaseType} for tests` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...chunks, Buffer.from('abcdef4d61784d696e642e636f6d', 'hex'), metadata]);
}

class Leaf {
  constructor(readonly data: MmdbValue) {}
}

class TreeNode {
  left?: TreeNode | Leaf;
  right?: TreeNode | Leaf;
}

function insert(root: TreeNode, bits: number[], prefix: number, leaf: Leaf): void {
  let node = root;
  for (let depth = 0; depth < prefix - 1; depth++) node = child(node, bits[depth]!);
  if (bits[prefix - 1]) node.right = leaf;
  else node.left = leaf;
}

function descend(root: TreeNode, bits: number[]): TreeNode {
  let node = root;
  for (const bit of bits) node = child(node, bit);
  return node;
}

// The node under `node` on side `bit`, made if missing; a leaf there is pushed down both sides,
// so the rest of its range keeps its data.
function child(node: TreeNode, bit: number): TreeNode {
  const current = bit ? node.right : node.left;
  if (current instanceof TreeNode) return current;
  const made = new TreeNode();
  made.left = current;
  made.right = current;
  if (bit) node.right = made;
  else node.left = made;
  return made;
}

function networkBits(cidr: string): { bits: number[]; prefix: number } {
  const [address = '', length] = cidr.split('/');
  const bytes = isIPv4(address) ? [...new Array<number>(12).fill(0), ...address.split('.').map(Number)] : isIPv6(address) ? ipv6Bytes(address) : undefined;
  if (!bytes) throw new Error(`not a network: ${cidr}`);
  const own = Number(length ?? (isIPv4(address) ? 32 : 128));
  const prefix = isIPv4(address) ? own + 96 : own;
  if (!Number.isInteger(own) || own < 1 || prefix > 128) throw new Error(`bad prefix length: ${cidr}`);
  const bits: number[] = [];
  for (const byte of bytes) for (let i = 7; i >= 0; i--) bits.push((byte >> i) & 1);
  return { bits, prefix };
}

function ipv6Bytes(ip: string): number[] {
  const text = new URL(`http://[${ip}]`).hostname.slice(1, -1); // plain hex groups, no dotted tail
  const [head = '', tail] = text.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]);
}

// ---- data section encoding (spec: "Output Data Section")

const TYPES = { pointer: 1, string: 2, double: 3, bytes: 4, uint16: 5, uint32: 6, map: 7, int32: 8, uint64: 9, uint128: 10, array: 11, boolean: 14, float: 15 };

function encode(value: MmdbValue): Buffer {
  if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    return Buffer.concat([control(TYPES.string, bytes.length), bytes]);
  }
  if (typeof value === 'boolean') return control(TYPES.boolean, value ? 1 : 0);
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return encode(new Typed('uint32', value));
    if (Number.isInteger(value) && value < 0 && value >= -(2 ** 31)) return encode(new Typed('int32', value));
    return encode(new Typed('double', value));
  }
  if (value instanceof Typed) {
    switch (value.type) {
      case 'double': {
        const b = Buffer.alloc(8);
        b.writeDoubleBE(Number(value.value));
        return Buffer.concat([control(TYPES.double, 8), b]);
      }
      case 'float': {
        const b = Buffer.alloc(4);
        b.writeFloatBE(Number(value.value));
        return Buffer.concat([control(TYPES.float, 4), b]);
      }
      case 'int32': {
        const b = Buffer.alloc(4);
        b.writeInt32BE(Number(value.value));
        return Buffer.concat([control(TYPES.int32, 4), b]);
      }
      default: {
        // Unsigned integers use as few bytes as they need (zero bytes for 0).
        let n = BigInt(value.value);
        const bytes: number[] = [];
        while (n > 0n) {
          bytes.unshift(Number(n & 0xffn));
          n >>= 8n;
        }
        return Buffer.concat([control(TYPES[value.type], bytes.length), Buffer.from(bytes)]);
      }
    }
  }
  if (Array.isArray(value)) return Buffer.concat([control(TYPES.array, value.length), ...value.map(encode)]);
  const entries = Object.entries(value);
  return Buffer.concat([control(TYPES.map, entries.length), ...entries.flatMap(([k, v]) => [encode(k), encode(v)])]);
}

// Control byte: three bits of type (0 = extended, the real type - 7 in the next byte), five bits
// of size; sizes from 29 on spill into one to three following bytes.
function control(type: number, size: number): Buffer {
  const head: number[] = [];
  let sizeBits: number;
  const extra: number[] = [];
  if (size < 29) sizeBits = size;
  else if (size < 29 + 256) {
    sizeBits = 29;
    extra.push(size - 29);
  } else if (size < 285 + 65536) {
    sizeBits = 30;
    extra.push((size - 285) >> 8, (size - 285) & 0xff);
  } else {
    sizeBits = 31;
    const n = size - 65821;
    extra.push((n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff);
  }
  if (type <= 7) head.push((type << 5) | sizeBits);
  else head.push(sizeBits, type - 7);
  return Buffer.from([...head, ...extra]);
}

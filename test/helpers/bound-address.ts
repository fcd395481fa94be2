// What a server is really bound to, observed from outside it: the kernel's table of listening
// sockets and connection attempts on this machine's other addresses, not the server's own getters.
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

/** IPv4 in /proc/net/tcp: one 32-bit word in host (little-endian) byte order. */
function ipv4FromProc(hex: string): string {
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

/** IPv6 in /proc/net/tcp6: four 32-bit words, each in host byte order. */
function ipv6FromProc(hex: string): string {
  const bytes: string[] = [];
  for (let w = 0; w < 32; w += 8) for (const i of [6, 4, 2, 0]) bytes.push(hex.slice(w + i, w + i + 2));
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i]! + bytes[i + 1]!);
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1); // normalised: '::1', '::'
}

/**
 * The local addresses with a socket listening on `port`, from the kernel's tables (Linux), or null
 * where /proc/net is not there. Sees every process of this network namespace, children included.
 */
export function listeningAddresses(port: number): string[] | null {
  const tables: Array<[string, (hex: string) => string]> = [
    ['/proc/net/tcp', ipv4FromProc],
    ['/proc/net/tcp6', ipv6FromProc],
  ];
  if (!fs.existsSync(tables[0]![0])) return null;
  const found: string[] = [];
  for (const [file, decode] of tables) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (!local || state !== '0A') continue; // 0A: TCP_LISTEN
      const [addr, portHex] = local.split(':') as [string, string];
      if (parseInt(portHex, 16) === port) found.push(decode(addr));
    }
  }
  return found;
}

/** This machine's addresses other than loopback (link-local IPv6 left out: it needs a scope). */
export function nonLoopbackAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((a) => a && !a.internal && !(a.family === 'IPv6' && a.address.startsWith('fe80:')))
    .map((a) => a!.address);
}

/** Tries a TCP connection: 'connected', or the error code ('ECONNREFUSED', …), or 'timeout'. */
export function tryConnect(host: string, port: number, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (outcome: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(() => done('timeout'), timeoutMs);
    socket.once('connect', () => done('connected'));
    socket.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
  });
}

/**
 * What a server on `port` can be reached at: its listening addresses (when the kernel's table can
 * be read) and the outcome of a connection to loopback and to each other address of this machine.
 */
export async function reachability(port: number): Promise<{
  listening: string[] | null;
  loopback: string;
  others: Record<string, string>;
}> {
  const others: Record<string, string> = {};
  for (const address of nonLoopbackAddresses()) others[address] = await tryConnect(address, port);
  return { listening: listeningAddresses(port), loopback: await tryConnect('127.0.0.1', port), others };
}

// A minimal authoritative-style DNS responder for benchmarks, run as a child process so that its
// CPU is not the benchmark's: answers every `_onion-mx._tcp.<name>` SRV query with one onion target
// and AD=1, everything else with NXDOMAIN. Prints its UDP port on stdout; reports its query count
// when it receives "count" on stdin. Loopback only.
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { decode, encode, AUTHENTIC_DATA, RECURSION_AVAILABLE, type DecodedPacket } from 'dns-packet';

const TARGET = process.argv[2] ?? 'aj3nsqqcksrrc5cye5etjsoewz6jrygpekzwoko3q6wyxjlb3dgasfid.onion';
let queries = 0;
const socket = createSocket('udp4');

socket.on('message', (msg, rinfo) => {
  queries++;
  let q: DecodedPacket;
  try {
    q = decode(msg);
  } catch {
    return;
  }
  const question = q.questions?.[0];
  if (question === undefined) return;
  const isSrv = question.type === 'SRV' && question.name.toLowerCase().startsWith('_onion-mx._tcp.');
  const reply = encode({
    type: 'response',
    id: q.id ?? 0,
    flags: RECURSION_AVAILABLE | AUTHENTIC_DATA | (isSrv ? 0 : 3),
    questions: [question],
    answers: isSrv ? [{ type: 'SRV', name: question.name, ttl: 300, data: { priority: 0, weight: 5, port: 25, target: TARGET } }] : [],
  });
  socket.send(reply, rinfo.port, rinfo.address);
});

socket.bind(0, '127.0.0.1', () => {
  process.stdout.write(`${socket.address().port}\n`);
});

createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'count') process.stdout.write(`count ${queries}\n`);
  if (line.trim() === 'exit') process.exit(0);
});

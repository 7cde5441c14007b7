/**
 * `tuntcp report <pcap> [-o FILE]`: draw a capture (tcpdump's, Wireshark's
 * or ours; LINKTYPE_RAW, EN10MB, LINUX_SLL) as one self-contained HTML page,
 * or with --ladder as ladders in the terminal. Nothing is sent anywhere; no
 * root needed. States come from the passive tracker and are marked inferred.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import type { CommandModule } from 'yargs';
import { ConversationSet, MAX_SEGMENTS } from '../trace/conversation.js';
import { htmlReport } from '../trace/html-report.js';
import { ladders, utf8Locale } from '../trace/ladder.js';
import { readPcap, recordToIPv4 } from '../trace/pcap.js';
import type { Lang } from '../trace/explain.js';
import { die } from './errors.js';

interface ReportArgs {
  pcap: string;
  o?: string;
  ladder: boolean;
  lang: Lang;
}

const PCAPNG_MAGIC = 0x0a0d0d0a;

/** The conversations of a pcap file's bytes; throws a one-line error for what is not a pcap. */
export function conversationsOfPcap(buf: Buffer, name: string, names?: [string, string]): ConversationSet {
  if (buf.length >= 4 && buf.readUInt32LE(0) === PCAPNG_MAGIC) {
    throw new Error(`${name} is pcapng; save it as pcap (tcpdump -w, or editcap -F pcap ${name} out.pcap)`);
  }
  const magic = buf.length >= 24 ? buf.readUInt32LE(0) : 0;
  if (![0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1].includes(magic)) throw new Error(`${name} is not a pcap file`);
  const records = readPcap(buf);
  const set = new ConversationSet({ names });
  for (const rec of records) {
    const p = recordToIPv4(rec);
    if (p !== null) set.packet(p, rec.timeUs / 1000);
    else set.ignored++;
  }
  return set;
}

export const reportCommand: CommandModule<object, ReportArgs> = {
  command: 'report <pcap>',
  describe: 'draw a pcap capture as one self-contained HTML page (ladders, time-sequence graphs, state diagram), or with --ladder in the terminal',
  builder: (y) =>
    y
      .positional('pcap', { type: 'string', demandOption: true, describe: 'capture file (pcap: raw IP, Ethernet or Linux cooked)' })
      .option('o', { type: 'string', describe: 'write the HTML page to this file (default: stdout)' })
      .option('ladder', { type: 'boolean', default: false, describe: 'print each connection as a ladder diagram instead of HTML on stdout' })
      .option('lang', { choices: ['en', 'zh'] as const, default: 'en' as const, describe: 'language of the state explanations' }) as never,
  handler: (a) => {
    try {
      const set = conversationsOfPcap(readFileSync(a.pcap), a.pcap);
      const convs = set.conversations();
      if (convs.length === 0) throw new Error(`${a.pcap}: no TCP segments (${set.ignored} other packets)`);
      if (set.omitted > 0) process.stderr.write(`tuntcp: report: ${set.omitted} segments past the first ${MAX_SEGMENTS} (or beyond 4096 connections) are not drawn\n`);
      if (a.ladder) process.stdout.write(ladders(convs, { unicode: utf8Locale() }).join('\n') + '\n');
      if (a.o !== undefined || !a.ladder) {
        const html = htmlReport({
          title: `tuntcp report: ${a.pcap}`,
          lang: a.lang,
          intro: [`${convs.length} TCP connection${convs.length > 1 ? 's' : ''} from ${a.pcap}; the left line is the client (the sender of the first SYN). States are inferred from the segments.`],
          conversations: convs,
          diagramSides: 'both',
        });
        if (a.o !== undefined) {
          writeFileSync(a.o, html);
          process.stderr.write(`wrote ${a.o}: ${convs.length} connection(s), ${convs.reduce((s, c) => s + c.segs.length, 0)} segments\n`);
        } else process.stdout.write(html);
      }
    } catch (err) {
      die('report', err);
    }
  },
};

// The demo's pictures (issue 14): `demo --ladder --html FILE` draws every
// segment of the run once, in the terminal and on the page; Chromium renders
// the page headless with no network (this process's private namespace) and
// the screenshot is not blank and shows the arrows' colours. Without
// chromium the browser test is reported as skipped, never as passed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { assertPrivateNamespace, run, CLI } from './lab.js';
import { countColour, decodePng } from './png.js';

assertPrivateNamespace();

const CHROMIUM = ['chromium', 'chromium-browser'].find((c) => spawnSync(c, ['--version'], { encoding: 'utf8' }).status === 0) ?? null;
const browserTest = CHROMIUM !== null ? test : test.skip;

const dir = mkdtempSync(join(tmpdir(), 'tuntcp-pictures-'));
const html = join(dir, 'demo.html');

/** The TCP segments the demo traced: its `<` / `>` tcpdump lines (a dropped one is printed when it leaves the stack). */
function tracedSegments(out: string): number {
  return out.split('\n').filter((l) => /^\+\d+\.\d{3}s [<>] IP .*: Flags \[/.test(l)).length;
}

test('demo --ladder --html: every traced segment is one ladder row and one class="seg" arrow', async () => {
  const r = await run(process.execPath, [CLI, 'demo', '--ladder', '--html', html], 60_000);
  assert.is(r.code, 0, r.stderr);
  const n = tracedSegments(r.stdout);
  assert.ok(n >= 25, `${n} segments traced`);
  const page = readFileSync(html, 'utf8');
  assert.is((page.match(/<line class="seg[ "]/g) ?? []).length, n);
  assert.is((page.match(/<line class="seg[^"]*\bdropped\b/g) ?? []).length, 1);
  assert.ok((page.match(/<line class="seg[^"]*\bretrans\b/g) ?? []).length >= 1);
  assert.not.match(page, /<script/i);
  // Terminal ladder rows: an arrow between the two bars (ASCII or box drawing, by the locale).
  const rows = r.stdout.split('\n').filter((l) => /^(\+\d+\.\d{3}s| {7}) {2}[|│](<|-|─).*\[/.test(l));
  assert.is(rows.length, n);
  for (const l of r.stdout.split('\n').filter((x) => /^[ +].*[|│]$/.test(x))) assert.ok(l.length <= 100, l);
  // tuntcp's states from its TCB; the kernel's read with ss or marked inferred.
  assert.match(r.stdout, /[|│] CLOSED -> SYN_SENT /);
  assert.match(r.stdout, /LISTEN -> SYN_RECEIVED \(inferred\) [|│]/);
  assert.match(page, /<svg class="seqgraph"/);
  assert.match(page, /<svg class="ccplot"/);
  assert.match(page, /<svg class="states"/);
});

browserTest('chromium renders the page with no network: not blank, the arrows drawn', () => {
  assert.ok(existsSync(html), 'the demo wrote its page');
  const png = join(dir, 'demo.png');
  const r = spawnSync(CHROMIUM!, ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--window-size=1000,1600', `--screenshot=${png}`, `file://${html}`], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.ok(existsSync(png), `no screenshot: ${r.stderr}`);
  const img = decodePng(readFileSync(png));
  assert.equal([img.width, img.height], [1000, 1600]);
  const white = countColour(img, 255, 255, 255, 3);
  const total = img.width * img.height;
  assert.ok(white < total * 0.97, `the page is blank: ${white} of ${total} pixels white`);
  // The SYN arrows' blue (#1f6feb) and the timelines' dark grey are on screen.
  assert.ok(countColour(img, 0x1f, 0x6f, 0xeb, 30) > 200, 'SYN arrows drawn');
  assert.ok(countColour(img, 0x44, 0x44, 0x44, 20) > 1000, 'timelines drawn');
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();

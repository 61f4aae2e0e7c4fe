// Copies the compiled ES modules (dist/*.js, no .d.ts) to net/assets/client/,
// where the node binary embeds them for the /chat page (served as
// /assets/client/NAME). Run `npm run assets` after changing src/ and commit
// the copies with the change (net/embed_assets.cmake embeds what is in git).
// `--check`: change nothing; exit 1 if the copies differ from dist/ (ctest
// client.assets runs this after client.build).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HEADER = '// Generated from clients/js/src by `npm run assets` (tsc); do not edit.\n';
const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const out = path.join(here, '..', '..', '..', 'net', 'assets', 'client');
const check = process.argv.includes('--check');

const names = fs.readdirSync(dist).filter((n) => n.endsWith('.js')).sort();
const want = new Map(names.map((n) => [n, HEADER + fs.readFileSync(path.join(dist, n), 'utf8')]));
if (check) {
  const have = fs.existsSync(out) ? fs.readdirSync(out).sort() : [];
  const problems = [];
  for (const n of have) if (!want.has(n)) problems.push(`net/assets/client/${n} has no source`);
  for (const [n, text] of want) {
    const p = path.join(out, n);
    if (!fs.existsSync(p)) problems.push(`net/assets/client/${n} is missing`);
    else if (fs.readFileSync(p, 'utf8') !== text) problems.push(`net/assets/client/${n} differs from dist/${n}`);
  }
  if (problems.length) {
    console.error(`${problems.join('\n')}\nrun \`npm run assets\` in clients/js (and add net/CMakeLists.txt entries for new files)`);
    process.exit(1);
  }
  console.log(`net/assets/client matches dist (${names.length} modules)`);
} else {
  fs.mkdirSync(out, { recursive: true });
  for (const old of fs.readdirSync(out)) if (!want.has(old)) fs.rmSync(path.join(out, old));
  for (const [n, text] of want) fs.writeFileSync(path.join(out, n), text);
  console.log(`${names.length} modules -> net/assets/client: ${names.join(' ')}`);
}
